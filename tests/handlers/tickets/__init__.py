"""Tickets: intake, routing, worker actions, deadlines and what the resident hears."""
