"""Tickets: a resident's report tracked from intake to rating, with its rules, deadlines and notices."""
