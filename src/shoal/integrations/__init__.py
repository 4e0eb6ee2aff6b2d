"""Integrations of Shoal with other frameworks, each behind its own optional extra.

``shoal.integrations.langchain``: a LangChain ``VectorStore`` (the ``langchain`` extra).
"""
