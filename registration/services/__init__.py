"""Every write about students that has a rule, one transaction each, by subject:
``accounts`` (sign-up, profile, recovery) and ``registrations`` (classes, prior years).
"""
