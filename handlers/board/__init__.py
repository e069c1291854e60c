"""The public notice board: budgets, allocations with their notice period, objections, demand and the monthly report."""
