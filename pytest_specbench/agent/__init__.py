"""A run's middle stage: the agent loop (`loop`), the MCP tool sessions it calls (`tools`),
the typed transcript it writes (`transcript`) and the statistics read from it (`stats`).

May import: `config`, `models`, `server`, `tree` and the shared leaves (`errors`, `_files`, `_text`).
"""
