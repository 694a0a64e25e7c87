"""Generation: prompts, the LCEL chain, answer types, citations and their checks."""
