"""Projects: purchased-service projects, their applications, contracts and milestones."""
