"""Generation: prompts, the ChatOllama factory, the LCEL chain, citations."""
