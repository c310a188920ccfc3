"""Reports people look at, as single self-contained HTML files: a stack's timeline from its
events (`stack report`, `pytest --stack-report`) and the shutdown benchmark's runs
(`stack bench shutdown --html`)."""
