"""CPU per request of { viewer { role } } in process (ASGI, SQLite, no Redis), sequential."""
import asyncio, sys, time, tempfile, statistics
root = sys.argv[1]
sys.path.insert(0, root)
import httpx, jwt
from switchboard.app import create_app
from switchboard.settings import Settings
import switchboard
assert switchboard.__file__.startswith(root), switchboard.__file__
SECRET = "x" * 40
Q = sys.argv[3] if len(sys.argv) > 3 else "{ viewer { role } }"
async def main():
    d = tempfile.mkdtemp(); now = int(time.time())
    app = create_app(Settings(database_url=f"sqlite://{d}/b.db", jwt_secret=SECRET, **({"redis_url": "redis://127.0.0.1:6379/0", "redis_prefix": "i11bench" + str(now)} if len(sys.argv) > 2 else {})))

    token = jwt.encode({"sub": "a", "org": "o", "role": "admin", "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")
    h = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
            for _ in range(300):
                await c.post("/graphql", json={"query": Q}, headers=h)
            runs = []; walls = []
            for _ in range(5):
                t = time.process_time(); w = time.perf_counter()
                for _ in range(1000):
                    r = await c.post("/graphql", json={"query": Q}, headers=h)
                runs.append((time.process_time() - t) / 1000 * 1e6); walls.append((time.perf_counter() - w) / 1000 * 1e6)
            print(root, "µs CPU/request (5 runs of 1000):", [round(x) for x in runs], "median", round(statistics.median(runs)), "wall median", round(statistics.median(walls)))
asyncio.run(main())
