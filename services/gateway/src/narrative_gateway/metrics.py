from prometheus_client import Counter, Gauge

# outcome: ok, missing, invalid or error (the key store failed).
AUTH_REQUESTS = Counter(
    "gateway_auth_requests_total",
    "API key checks made for Traefik's ForwardAuth, by outcome.",
    ["outcome"],
)
# time_window: day, week or month (the last 1, 7 or 30 UTC days).
ACTIVE_USERS = Gauge(
    "business_active_users",
    "Distinct users with an authenticated request in the window, estimated with "
    "a Redis HyperLogLog (standard error 0.81%).",
    ["time_window"],
)
