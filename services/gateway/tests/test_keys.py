from pymongo import AsyncMongoClient

from narrative_gateway.keys import KEY_PREFIX, KeyStore, hash_key


async def test_key_is_stored_only_as_hash(infra):
    client = AsyncMongoClient(infra.env["MONGODB_URI"])
    store = KeyStore(client, "gateway_keys_test")

    key = await store.create("alice")

    assert key.startswith(KEY_PREFIX)
    document = await client["gateway_keys_test"]["api_keys"].find_one(
        {"user_id": "alice"}
    )
    assert document["_id"] == hash_key(key)
    assert key not in str(document)
    await client.close()


async def test_lookup_rejects_unknown_and_revoked_keys(infra):
    client = AsyncMongoClient(infra.env["MONGODB_URI"])
    store = KeyStore(client, "gateway_keys_test")
    key = await store.create("bob", role="admin")

    found = await store.lookup(key)
    assert found["user_id"] == "bob"
    assert found["role"] == "admin"
    assert await store.lookup(key + "x") is None

    assert await store.revoke_user("bob") == 1
    assert await store.lookup(key) is None
    await client.close()
