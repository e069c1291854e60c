"""Volunteering: sign-up, activities, check-in and check-out, the points bank and the time bank."""
