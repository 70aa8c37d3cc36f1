"""The local analyzer: deterministic insights from the profile and the metrics.

It runs when no OpenAI key is set and whenever OpenAI fails, with the
same structure the OpenAI analyzer returns.
"""
