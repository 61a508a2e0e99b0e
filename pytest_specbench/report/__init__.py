"""What a session shows and keeps: the terminal table and results.json (`summary`), the
scaffold-effect section (`effect`) and the Markdown snapshot of a tree (`snapshot`).

May import every earlier stage; nothing but `session` and `plugin` imports it.
"""
