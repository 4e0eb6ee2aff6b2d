"""Client sources; `_sync` is generated from `_async` by tools/gen_sync.py."""
