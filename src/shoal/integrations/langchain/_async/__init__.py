"""The LangChain store's async I/O: the store's methods and its collection's."""
