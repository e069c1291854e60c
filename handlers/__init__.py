"""What the bot does, one module or subpackage per capability; `handlers.router` assembles them.

Importing this package imports nothing else, so any module below can be imported on its own.
"""
