"""API keys: generated once, shown once, stored only as a SHA-256 hash.

Run `python -m narrative_gateway.keys create --user alice` (what
`make api-key USER=alice` does) to create a key; only the key goes to
stdout.
"""

import argparse
import asyncio
import hashlib
import secrets
import sys
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from narrative_common.clients import create_mongo_client

KEY_PREFIX = "nm_"
COLLECTION = "api_keys"
ROLES = ("user", "admin")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    def __init__(self, client: AsyncMongoClient, database: str) -> None:
        self.collection = client[database][COLLECTION]

    async def create(self, user_id: str, role: str = "user") -> str:
        if not user_id or len(user_id) > 128:
            raise ValueError("user must be 1 to 128 characters")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key = new_key()
        await self.collection.insert_one(
            {
                "_id": hash_key(key),
                "user_id": user_id,
                "role": role,
                "created_at": datetime.now(UTC),
                "revoked": False,
            }
        )
        return key

    async def lookup(self, key: str) -> dict | None:
        """Return the key's owner document, or None for an unknown or revoked key."""
        document = await self.collection.find_one({"_id": hash_key(key)})
        if document is None or document.get("revoked"):
            return None
        return document

    async def revoke_user(self, user_id: str) -> int:
        result = await self.collection.update_many(
            {"user_id": user_id}, {"$set": {"revoked": True}}
        )
        return result.modified_count


async def _create(user: str, role: str) -> str:
    from narrative_gateway.settings import GatewaySettings

    settings = GatewaySettings()
    client = create_mongo_client(settings, "narrative-gateway-keys")
    try:
        return await KeyStore(client, settings.mongodb_database).create(user, role)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="narrative_gateway.keys", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key and print it")
    create.add_argument("--user", required=True, help="user id the key belongs to")
    create.add_argument("--role", default="user", choices=ROLES)
    args = parser.parse_args(argv)
    try:
        key = asyncio.run(_create(args.user, args.role))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero
        print(
            f"error: could not store the key in MongoDB ({type(exc).__name__}: {exc}). "
            "Is the stack running (`make stack`)?",
            file=sys.stderr,
        )
        return 1
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
