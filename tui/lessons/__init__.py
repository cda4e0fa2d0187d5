"""Guided lessons (LESSONS.md L1–L4): each one a list of steps that tick off as the learner does
them in the app, with the lesson's numbers beside the live ones."""
