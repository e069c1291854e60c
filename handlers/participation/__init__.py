"""Residents taking part: proposals and supports (proposals.py), secret votes (votes.py), points for taking
part (points.py), the chat handler (chat.py), workers' WeCom commands (commands.py) and the counts the
monthly report needs (summary.py)."""

from handlers.participation.summary import participation_summary

__all__ = ["participation_summary"]
