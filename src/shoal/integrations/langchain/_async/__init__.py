"""The store's I/O methods, written once (tools/gen_sync.py makes the sync modules)."""
