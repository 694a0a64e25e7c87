"""English and Korean UI text.

The language is the sidebar's choice, else the ``RAG_UI_LANGUAGE`` setting, else the
browser's language (``st.context.locale``): Korean for a ``ko`` locale, English otherwise.
Answers follow the question's language regardless (see the answer prompt).
"""

from __future__ import annotations

import streamlit as st

from rag_core.generation.llm import OLLAMA_MESSAGES
from rag_core.generation.report import LANGUAGE_NAMES, NOTICE_TEXTS

LANGUAGES = {"en": "English", "ko": "한국어"}
LANGUAGE_KEY = "ui_language"

MESSAGES: dict[str, dict[str, str]] = {
    "nav.chat": {"en": "Chat", "ko": "채팅"},
    "nav.documents": {"en": "Documents", "ko": "문서"},
    "nav.evaluate": {"en": "Evaluate", "ko": "평가"},
    "chat.title": {"en": "Chat with your documents", "ko": "문서와 대화하기"},
    "chat.input": {"en": "Ask a question about your documents", "ko": "문서에 대해 질문하세요"},
    "chat.no_documents": {
        "en": "No documents indexed yet: add some on the Documents page.",
        "ko": "아직 색인된 문서가 없습니다. 문서 페이지에서 추가하세요.",
    },
    "chat.go_documents": {"en": "Go to Documents", "ko": "문서 페이지로 가기"},
    "chat.chats": {"en": "Chats", "ko": "대화 목록"},
    "chat.new": {"en": "New chat", "ko": "새 대화"},
    "chat.export": {"en": "Export chat as Markdown", "ko": "대화를 Markdown으로 내보내기"},
    "chat.searching": {"en": "Searching the documents...", "ko": "문서를 검색하는 중..."},
    "chat.no_passages": {
        "en": "No passages found in the indexed documents.",
        "ko": "색인된 문서에서 관련 구절을 찾지 못했습니다.",
    },
    "chat.sources": {"en": "Sources", "ko": "출처"},
    "chat.closest": {
        "en": "Closest matches (not relevant enough to answer)",
        "ko": "가장 가까운 구절 (답하기에 충분히 관련되지 않음)",
    },
    "chat.cited": {"en": "Cited", "ko": "인용한 출처"},
    "chat.also_retrieved": {"en": "Also retrieved", "ko": "함께 찾은 구절"},
    "chat.status.searching": {"en": "Searching the documents…", "ko": "문서를 검색하는 중…"},
    "chat.status.reading": {
        "en": "Reading {n} passages… ({seconds} s)",
        "ko": "구절 {n}개를 읽는 중… ({seconds}초)",
    },
    "chat.status.thinking": {"en": "Thinking… ({seconds} s)", "ko": "생각하는 중… ({seconds}초)"},
    "chat.status.retry": {
        "en": "Asking again for an answer in {language}… ({seconds} s)",
        "ko": "{language}로 다시 답하도록 요청하는 중… ({seconds}초)",
    },
    "chat.thinking": {"en": "Thinking", "ko": "생각 과정"},
    "chat.retried": {
        "en": "Asked again for an answer in {language}.",
        "ko": "{language}로 다시 답하도록 요청했습니다.",
    },
    "chat.unsupported_mark": {
        "en": "Not supported by [{n}]: {sentence}",
        "ko": "[{n}]의 뒷받침 없음: {sentence}",
    },
    "chat.supporting": {
        "en": "Supports the answer: “{sentence}”",
        "ko": "답변을 뒷받침하는 문장: “{sentence}”",
    },
    "chat.sentence_highlighted": {
        "en": "(the sentence supporting the answer is highlighted)",
        "ko": "(답변을 뒷받침하는 문장을 강조했습니다)",
    },
    "chat.export_question": {"en": "Q: {question}", "ko": "질문: {question}"},
    "chat.export_no_answer": {"en": "(no answer)", "ko": "(답변 없음)"},
    "chat.export_note": {"en": "Note: {text}", "ko": "참고: {text}"},
    "notice.truncated": {
        "en": NOTICE_TEXTS["truncated"],
        "ko": "답변이 길이 제한에서 잘렸습니다. 더 긴 답변을 받으려면 RAG_NUM_PREDICT(지금 "
        "{num_predict} 토큰)를 늘리세요.",
    },
    "notice.language": {
        "en": NOTICE_TEXTS["language"],
        "ko": "다시 요청했는데도 답변이 질문의 언어가 아닌 {answer_language}로 되어 있습니다.",
    },
    "notice.no_citation": {
        "en": NOTICE_TEXTS["no_citation"],
        "ko": "답변이 출처를 인용하지 않았습니다. 아래 구절과 대조해 확인하세요.",
    },
    "notice.invalid_citations": {
        "en": NOTICE_TEXTS["invalid_citations"],
        "ko": "답변이 인용한 {numbers}은(는) 보여 드린 출처에 없습니다.",
    },
    "notice.unsupported": {
        "en": NOTICE_TEXTS["unsupported"],
        "ko": "인용한 문장 {n}개가 인용한 구절의 뒷받침을 받지 못합니다 (아래에 표시).",
    },
    "notice.translation_unavailable": {
        "en": NOTICE_TEXTS["translation_unavailable"],
        "ko": "문서가 {languages}로 되어 있지만 모델이 질문을 번역하지 못해 질문 그대로만 "
        "검색했습니다. Ollama가 실행 중인지 확인하세요.",
    },
    "notice.translation_unusable": {
        "en": NOTICE_TEXTS["translation_unusable"],
        "ko": "문서가 {languages}로 되어 있지만 모델의 번역을 쓸 수 없어 질문 그대로만 "
        "검색했습니다.",
    },
    "lang.ko": {"en": LANGUAGE_NAMES["ko"], "ko": "한국어"},
    "lang.en": {"en": LANGUAGE_NAMES["en"], "ko": "영어"},
    "lang.zh": {"en": LANGUAGE_NAMES["zh"], "ko": "중국어"},
    "lang.ja": {"en": LANGUAGE_NAMES["ja"], "ko": "일본어"},
    "chat.page": {"en": "p. {page}", "ko": "{page}쪽"},
    "chat.page_printed": {
        "en": "p. {page} (printed {label})",
        "ko": "{page}쪽 (인쇄 쪽번호 {label})",
    },
    "chat.score": {
        "en": "relevance score {score:.3f} - similarity {similarity:.2f}",
        "ko": "관련도 점수 {score:.3f} - 유사도 {similarity:.2f}",
    },
    "chat.show_page": {"en": "Show on the page", "ko": "페이지에서 보기"},
    "chat.not_located": {
        "en": "(the passage could not be located on the page image)",
        "ko": "(페이지 이미지에서 구절 위치를 찾지 못했습니다)",
    },
    "chat.searched_in_translation": {
        "en": "Searched for: {queries} (the question and its translation)",
        "ko": "검색한 질문: {queries} (질문과 그 번역)",
    },
    "chat.searched_for": {"en": "Searched for: {query}", "ko": "검색한 질문: {query}"},
    "chat.dropped": {
        "en": "{n} lower-ranked passages were left out to fit the model's context window "
        "(RAG_NUM_CTX).",
        "ko": "모델의 컨텍스트 창(RAG_NUM_CTX)에 맞추기 위해 순위가 낮은 구절 {n}개를 뺐습니다.",
    },
    "chat.meanwhile": {
        "en": " Meanwhile, here are the passages that match.",
        "ko": " 대신 질문과 맞는 구절을 보여 드립니다.",
    },
    "res.opening_store": {"en": "Opening the document store...", "ko": "문서 저장소를 여는 중..."},
    "res.rendering_page": {"en": "Rendering the page...", "ko": "페이지를 그리는 중..."},
    "res.reading_document": {"en": "Reading the document...", "ko": "문서를 읽는 중..."},
    "chat.show_document": {"en": "Show in the document", "ko": "문서에서 보기"},
    "chat.paragraph": {"en": "¶ {paragraph}", "ko": "{paragraph}번째 문단"},
    "chat.ocr": {"en": "OCR", "ko": "OCR"},
    "app.title": {"en": "Chat with your PDFs", "ko": "PDF와 대화하기"},
    "sidebar.language": {"en": "Language", "ko": "언어"},
    "sidebar.host": {"en": "Host: `{host}`", "ko": "호스트: `{host}`"},
    "sidebar.connected": {"en": "Connected - Ollama {version}", "ko": "연결됨 - Ollama {version}"},
    "sidebar.recheck": {"en": "Check again", "ko": "다시 확인"},
    "sidebar.model": {"en": "Model", "ko": "모델"},
    "sidebar.model_help": {
        "en": "Models pulled on the Ollama server (/api/tags)",
        "ko": "Ollama 서버에 받아 둔 모델 (/api/tags)",
    },
    "sidebar.top_k": {"en": "Passages per answer (top-k)", "ko": "답변당 구절 수 (top-k)"},
    "ollama.unreachable": {
        "en": OLLAMA_MESSAGES["unreachable"],
        "ko": "{host}에서 Ollama에 연결할 수 없습니다. `ollama serve`(또는 Ollama 앱)로 "
        "시작하거나 OLLAMA_HOST / RAG_OLLAMA_HOST를 올바른 주소로 설정하세요.",
    },
    "ollama.missing_model": {
        "en": OLLAMA_MESSAGES["missing_model"],
        "ko": "{host}에 '{model}' 모델이 없습니다. `ollama pull {model}`을 실행하세요.",
    },
    "ollama.busy": {
        "en": OLLAMA_MESSAGES.get(
            "busy", "Ollama at {host} is busy ({status}: {detail}); try again in a moment."
        ),
        "ko": "{host}의 Ollama가 바쁩니다 ({status}: {detail}). 잠시 뒤에 다시 해 보세요.",
    },
    "ollama.timeout": {
        "en": OLLAMA_MESSAGES.get(
            "timeout",
            "Ollama at {host} did not answer in time; try again, or raise RAG_OLLAMA_TIMEOUT.",
        ),
        "ko": "{host}의 Ollama가 제시간에 답하지 않았습니다. 다시 해 보거나 "
        "RAG_OLLAMA_TIMEOUT을 늘리세요.",
    },
    "auth.title": {"en": "Sign in", "ko": "로그인"},
    "auth.username": {"en": "Username", "ko": "사용자 이름"},
    "auth.password": {"en": "Password", "ko": "비밀번호"},
    "auth.login": {"en": "Sign in", "ko": "로그인"},
    "auth.wrong": {
        "en": "Wrong username or password.",
        "ko": "사용자 이름 또는 비밀번호가 틀렸습니다.",
    },
    "auth.signed_in": {"en": "Signed in as {name}", "ko": "{name} 님으로 로그인됨"},
    "auth.logout": {"en": "Sign out", "ko": "로그아웃"},
    "auth.stale_cookie": {
        "en": "Your saved sign-in is no longer valid: sign in again.",
        "ko": "저장된 로그인 정보가 더 이상 유효하지 않습니다. 다시 로그인하세요.",
    },
    "auth.bad_config": {
        "en": "Sign-in is on (RAG_AUTH_CONFIG), but its config file `{path}` cannot be used: "
        "{problem}. Fix the file, or unset RAG_AUTH_CONFIG to run without sign-in.",
        "ko": "로그인이 켜져 있지만(RAG_AUTH_CONFIG) 설정 파일 `{path}`을(를) 쓸 수 "
        "없습니다: {problem}. 파일을 고치거나, 로그인 없이 쓰려면 RAG_AUTH_CONFIG를 "
        "지우세요.",
    },
    "auth.err.missing": {"en": "the file does not exist", "ko": "파일이 없습니다"},
    "auth.err.unreadable": {
        "en": "the file cannot be read ({detail})",
        "ko": "파일을 읽을 수 없습니다 ({detail})",
    },
    "auth.err.yaml": {
        "en": "it is not valid YAML ({detail})",
        "ko": "올바른 YAML이 아닙니다 ({detail})",
    },
    "auth.err.no_users": {
        "en": "it lists no users under `credentials: usernames:`",
        "ko": "`credentials: usernames:` 아래에 사용자가 없습니다",
    },
    "auth.err.password": {
        "en": "the password of user '{user}' is missing or not a bcrypt hash (make one with "
        "`stauth.Hasher.hash('the password')`)",
        "ko": "사용자 '{user}'의 비밀번호가 없거나 bcrypt 해시가 아닙니다 "
        "(`stauth.Hasher.hash('비밀번호')`로 만드세요)",
    },
    "auth.err.cookie": {
        "en": "the `cookie:` section needs `name`, `key` (a random secret of at least {chars} "
        "characters) and `expiry_days` (a number, 0 or more)",
        "ko": "`cookie:` 항목에 `name`, `key`({chars}자 이상의 임의 비밀 값), "
        "`expiry_days`(0 이상의 숫자)가 있어야 합니다",
    },
    "auth.err.cookie_key_short": {
        "en": "the cookie `key` has {length} characters; it needs at least {chars} random "
        "characters, or the sign-in cookie can be forged. Make one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`',
        "ko": "쿠키 `key`가 {length}자입니다. 로그인 쿠키를 위조할 수 없도록 {chars}자 이상의 "
        "임의 값이어야 합니다. "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`로 만드세요',
    },
    "auth.err.cookie_key_sample": {
        "en": "the cookie `key` is a sample value from documentation, so anyone can forge the "
        "sign-in cookie with it. Make a secret one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`',
        "ko": "쿠키 `key`가 문서에 나오는 예시 값이라 누구나 로그인 쿠키를 위조할 수 있습니다. "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`로 비밀 값을 만드세요',
    },
    "eval.title": {"en": "Evaluate retrieval", "ko": "검색 평가"},
    "eval.caption": {
        "en": "Upload questions with their answer pages (JSON Lines: question, doc, pages) to "
        "see how often each retrieval mode puts an answer page in its top k.",
        "ko": "질문과 정답 페이지(JSON Lines: question, doc, pages)를 올리면 검색 방식마다 "
        "정답 페이지를 상위 k개 안에 얼마나 자주 넣는지 보여 줍니다.",
    },
    "eval.file": {"en": "Question set (.jsonl)", "ko": "질문 세트 (.jsonl)"},
    "eval.modes": {"en": "Retrieval modes", "ko": "검색 방식"},
    "eval.run": {"en": "Run evaluation", "ko": "평가 실행"},
    "eval.running": {
        "en": "Evaluating {mode} ({n} questions)",
        "ko": "{mode} 평가 중 (질문 {n}개)",
    },
    "eval.col_mode": {"en": "mode", "ko": "검색 방식"},
    "eval.col_scope": {"en": "scope", "ko": "범위"},
    "eval.col_questions": {"en": "questions", "ko": "질문 수"},
    "eval.overall": {"en": "overall", "ko": "전체"},
    "eval.translated": {
        "en": "{mode}: {n} questions were also searched in translation.",
        "ko": "{mode}: 질문 {n}개는 번역해서도 검색했습니다.",
    },
    "eval.gate": {"en": '"Not in the documents" gate', "ko": '"문서에 없음" 판단'},
    "eval.gate_caption": {
        "en": "Questions without answer pages are unanswerable. Caught: unanswerable "
        "questions the gate refused. Refused: answerable questions it refused wrongly. "
        "Precision and recall of its refusals, per question language.",
        "ko": "정답 페이지가 없는 질문은 답할 수 없는 질문입니다. 걸러냄: 판단이 거절한 답할 수 "
        "없는 질문. 잘못 거절: 잘못 거절한 답할 수 있는 질문. 질문 언어별 거절의 정밀도와 재현율.",
    },
    "eval.gate_mode": {"en": "mode", "ko": "검색 방식"},
    "eval.gate_language": {"en": "question language", "ko": "질문 언어"},
    "eval.gate_caught": {"en": "caught", "ko": "걸러냄"},
    "eval.gate_refused": {"en": "refused wrongly", "ko": "잘못 거절"},
    "eval.gate_precision": {"en": "precision", "ko": "정밀도"},
    "eval.gate_recall": {"en": "recall", "ko": "재현율"},
    "docs.title": {"en": "Documents", "ko": "문서"},
    "docs.uploader": {
        "en": "Drop PDFs, HWP / HWPX or text files here",
        "ko": "PDF, 한글(HWP·HWPX)이나 텍스트 파일을 여기에 끌어다 놓으세요",
    },
    "docs.uploader_help": {
        "en": "PDF (scanned pages are read by OCR), .hwpx, .hwp, .txt and .md files. "
        "Everything stays on this machine.",
        "ko": "PDF(스캔한 쪽은 OCR로 읽음), .hwpx, .hwp, .txt, .md 파일. 모든 것이 이 컴퓨터 "
        "안에만 머뭅니다.",
    },
    "docs.password": {
        "en": "Password for encrypted PDFs (optional)",
        "ko": "암호화된 PDF의 비밀번호 (선택)",
    },
    "docs.err.password_required": {
        "en": "{name}: the PDF is encrypted: enter its password",
        "ko": "{name}: 암호화된 PDF입니다. 비밀번호를 입력하세요",
    },
    "docs.err.wrong_password": {
        "en": "{name}: wrong password",
        "ko": "{name}: 비밀번호가 틀렸습니다",
    },
    "docs.err.empty": {
        "en": "{name}: the file is empty (0 bytes)",
        "ko": "{name}: 빈 파일입니다 (0바이트)",
    },
    "docs.err.unsupported": {
        "en": "{name}: unsupported file type; use PDF, .hwpx, .hwp, .txt or .md",
        "ko": "{name}: 지원하지 않는 파일 형식입니다. PDF, .hwpx, .hwp, .txt, .md를 쓰세요",
    },
    "docs.err.ocr_unavailable": {
        "en": "{name}: no page has extractable text and OCR is unavailable: "
        "apt-get install tesseract-ocr tesseract-ocr-kor",
        "ko": "{name}: 추출할 수 있는 텍스트가 있는 쪽이 없고 OCR(Tesseract)이 설치되어 있지 "
        "않습니다: apt-get install tesseract-ocr tesseract-ocr-kor",
    },
    "docs.err.no_text": {
        "en": "{name}: no page has extractable text: is it a scanned document? Run OCR first",
        "ko": "{name}: 추출할 수 있는 텍스트가 있는 쪽이 없습니다 (OCR이 꺼져 있거나 "
        "OCR로도 글자를 찾지 못했습니다)",
    },
    "docs.err.encoding": {
        "en": "{name}: the text file is neither UTF-8 nor CP949 (EUC-KR)",
        "ko": "{name}: 텍스트 파일이 UTF-8도 CP949(EUC-KR)도 아닙니다",
    },
    "docs.err.not_pdf": {
        "en": "{name}: this is not a PDF file (no %PDF- header); was it renamed?",
        "ko": "{name}: PDF 파일이 아닙니다 (%PDF- 머리글 없음). 이름만 바꾼 파일인가요?",
    },
    "docs.err.too_complex": {
        "en": "{name}: the PDF is too complex: reading it took too long",
        "ko": "{name}: PDF가 너무 복잡합니다. 읽는 데 제한 시간을 넘겼습니다",
    },
    "docs.err.too_large": {
        "en": "{name}: the PDF is too large to read within the memory limit",
        "ko": "{name}: PDF가 너무 커서 메모리 제한 안에서 읽을 수 없습니다",
    },
    "docs.err.limit": {
        "en": "{name}: the PDF exceeds the reader's safety limits (decompression bomb?)",
        "ko": "{name}: PDF가 읽기 안전 한도를 넘습니다 (압축 폭탄?)",
    },
    "docs.err.dependency": {
        "en": "{name}: the PDF needs a missing decoder",
        "ko": "{name}: 이 PDF에 필요한 디코더가 없습니다",
    },
    "docs.err.damaged": {
        "en": "{name}: the PDF is damaged or truncated and cannot be read",
        "ko": "{name}: PDF가 손상되었거나 잘려서 읽을 수 없습니다",
    },
    "docs.err.hwp_encrypted": {
        "ko": "{name}: 암호·배포용·DRM으로 보호된 문서라 읽을 수 없습니다. 한글에서 보호를 푼 "
        "사본을 저장하세요",
    },
    "docs.err.hwp_limit": {"ko": "{name}: 파일이 읽기 안전 한도를 넘습니다 (압축 폭탄?)"},
    "docs.err.hwp_unsafe": {"ko": "{name}: HWPX 안에 위험한 파일 이름이 있습니다 (경로 조작?)"},
    "docs.err.hwp_damaged": {"ko": "{name}: 문서가 손상되어 읽을 수 없습니다"},
    "docs.err.hwp_not_hwp": {"ko": "{name}: HWP/HWPX 파일이 아닙니다. 이름만 바꾼 파일인가요?"},
    "docs.err.hwp3": {"ko": "{name}: HWP 3.0 파일은 지원하지 않습니다. 한글에서 HWPX로 저장하세요"},
    "docs.err.hwp_too_large": {
        "ko": "{name}: 문서가 너무 커서 메모리 제한 안에서 읽을 수 없습니다"
    },
    "docs.err.hwp_too_complex": {
        "ko": "{name}: 문서가 너무 복잡합니다. 읽는 데 제한 시간을 넘겼습니다"
    },
    "docs.err.unreadable": {
        "en": "{name}: the file cannot be read",
        "ko": "{name}: 파일을 읽을 수 없습니다",
    },
    "docs.password_hint": {"en": " (password field below)", "ko": " (아래 비밀번호 칸)"},
    "docs.indexed": {"en": "Indexed documents", "ko": "색인된 문서"},
    "docs.empty": {
        "en": "No documents yet. Drop PDFs, HWP / HWPX, .txt or .md files above to index them.",
        "ko": "아직 문서가 없습니다. 위에 PDF, 한글(HWP·HWPX), .txt, .md 파일을 놓으면 색인합니다.",
    },
    "docs.col_name": {"en": "Name", "ko": "이름"},
    "docs.col_pages": {"en": "Pages", "ko": "쪽 수"},
    "docs.col_chunks": {"en": "Chunks", "ko": "청크 수"},
    "docs.col_added": {"en": "Added", "ko": "추가한 때"},
    "docs.totals": {"en": "{docs}, {chunks}", "ko": "{docs}, {chunks}"},
    "docs.already": {
        "en": "{name} is already indexed{where} ({chunks}).",
        "ko": "{name}은(는) 이미 색인되어 있습니다{where} ({chunks}).",
    },
    "docs.already_as": {"en": " as {name}", "ko": " ({name}(으)로)"},
    "docs.done": {
        "en": "{name}: {pages}, {chunks} indexed in {seconds:.1f} s.",
        "ko": "{name}: {pages}, {chunks}를 {seconds:.1f}초 만에 색인했습니다.",
    },
    "docs.waiting": {
        "en": "{name} ({position}/{count}): waiting",
        "ko": "{name} ({position}/{count}): 대기 중",
    },
    "docs.count.page": {"en": "{n} page", "ko": "{n}쪽"},
    "docs.count.pages": {"en": "{n} pages", "ko": "{n}쪽"},
    "docs.count.document": {"en": "{n} document", "ko": "문서 {n}개"},
    "docs.count.documents": {"en": "{n} documents", "ko": "문서 {n}개"},
    "docs.count.chunk": {"en": "{n} chunk", "ko": "청크 {n}개"},
    "docs.count.chunks": {"en": "{n} chunks", "ko": "청크 {n}개"},
    "docs.stage.parse": {"en": "reading pages", "ko": "페이지 읽는 중"},
    "docs.stage.ocr": {"en": "recognising text, page", "ko": "글자 인식(OCR) 중, 페이지"},
    "docs.stage.split": {"en": "splitting into chunks", "ko": "청크로 나누는 중"},
    "docs.stage.embed": {"en": "embedding chunks", "ko": "청크 임베딩 중"},
    "docs.stage.store": {"en": "storing", "ko": "저장 중"},
    "docs.stage.done": {"en": "done", "ko": "완료"},
    "docs.eta": {"en": ", about {seconds:.0f} s left", "ko": ", 약 {seconds:.0f}초 남음"},
    "docs.indexing_notice": {
        "en": "Indexing in the background: {names}",
        "ko": "백그라운드에서 색인하는 중: {names}",
    },
    "docs.delete_pick": {"en": "Documents to delete", "ko": "삭제할 문서"},
    "docs.delete": {"en": "Delete", "ko": "삭제"},
    "docs.delete_confirm": {
        "en": "Delete {names}? Its chunks are removed from the index.",
        "ko": "{names}을(를) 삭제할까요? 해당 청크가 색인에서 지워집니다.",
    },
    "docs.delete_yes": {"en": "Yes, delete", "ko": "예, 삭제합니다"},
    "docs.delete_cancel": {"en": "Cancel", "ko": "취소"},
    "docs.deleted": {"en": "Deleted {names}.", "ko": "{names}을(를) 삭제했습니다."},
    "docs.deleted_nothing": {"en": "nothing", "ko": "없음"},
    "docs.reindex": {"en": "Re-index with {model}", "ko": "{model}(으)로 다시 색인"},
    "docs.reindex_loading": {
        "en": "re-indexing: loading the model",
        "ko": "다시 색인하는 중: 모델 불러오는 중",
    },
    "collections.active": {"en": "Collection", "ko": "컬렉션"},
    "collections.also_search": {"en": "Also search in", "ko": "함께 검색할 컬렉션"},
    "collections.manage": {
        "en": "Collection: {name} (create, delete)",
        "ko": "컬렉션: {name} (만들기, 삭제)",
    },
    "collections.new": {"en": "New collection", "ko": "새 컬렉션"},
    "collections.name_help": {
        "en": "3-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
        "ko": "3-63자의 영문자, 숫자, '.', '_', '-' (처음과 끝은 영문자나 숫자)",
    },
    "collections.create": {"en": "Create and switch to it", "ko": "만들고 전환하기"},
    "collections.bad_name": {
        "en": "'{name}' is not a valid collection name.",
        "ko": "'{name}'은(는) 쓸 수 없는 컬렉션 이름입니다.",
    },
    "collections.delete": {"en": "Delete collection {name}", "ko": "{name} 컬렉션 삭제"},
    "collections.delete_confirm": {
        "en": "Delete collection {name}, with all its documents and chunks?",
        "ko": "{name} 컬렉션과 그 안의 모든 문서와 청크를 삭제할까요?",
    },
}


def _from_locale() -> str:
    try:
        locale = st.context.locale or ""
    except (AttributeError, RuntimeError):
        locale = ""
    return "ko" if locale.lower().startswith("ko") else "en"


def ui_language(default: str = "auto") -> str:
    """Return "en" or "ko" (sidebar choice, then the setting, then the browser locale)."""
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    if default in LANGUAGES:
        return default
    return _from_locale()


def t(key: str, **values: object) -> str:
    """Return the UI text ``key`` in the current language, formatted with ``values``.

    Raises:
        KeyError: unknown key (a programming error, caught by the tests).
    """
    texts = MESSAGES[key]
    text = texts.get(ui_language()) or texts.get("en") or texts["ko"]
    return text.format(**values) if values else text


def render_language_picker(default: str = "auto") -> None:
    """A sidebar selectbox for the UI language."""
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = ui_language(default)
    st.sidebar.selectbox(
        t("sidebar.language"),
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=LANGUAGE_KEY,
    )
