"""The async client and its transports."""
