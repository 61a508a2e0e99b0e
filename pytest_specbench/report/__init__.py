"""What a session shows and keeps: the terminal table and results.json (`summary`), the
scaffold-effect section (`effect`), the Markdown snapshot of a tree (`snapshot`), the HTML
report (`html`, from `views`, `charts`, `align` and `templates/`) and live progress (`progress`).

May import every earlier stage; nothing but `cli`, `session` and `plugin` imports it.
"""
