"""Training service: an HTTP API that queues training jobs, and worker
processes that run them.

The queue is arq (Redis-backed). It is asyncio-native like the services, so
the worker shares their MongoDB, Redis and S3 clients and code paths. It
retries a job that raises `Retry` up to `max_tries`, keeps job results in
Redis for `keep_result` seconds, writes a health-check key the operator can
read, and runs as its own process (`python -m narrative_training.worker`),
so training load never slows the API. MongoDB's `training_jobs` collection,
not arq, is the source of truth for a job's state.

arq by itself re-runs a job whose worker died only after the in-progress key
expires, which is job_timeout + 10 s (an hour here). So each running job
writes a heartbeat every few seconds, and a reaper in every worker puts a job
whose heartbeat is stale back in the queue as a new attempt, or fails it with
the reason once its attempts are used up. A job never stays "running".
"""

__version__ = "0.1.0"
