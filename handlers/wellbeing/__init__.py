"""报平安 and household files (一户一档): enrolment, the daily prompt, stepped escalation, device signals."""
