"""The client of profile-me.sh: `setup` signs a user up and keeps its access token, `run N`
sends N `me` requests one after another on one keep-alive connection."""
import http.client, json, os, sys, time

port, step = int(sys.argv[1]), sys.argv[2]
token_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"latchkey-profile-{port}.token")
operations = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/operations")


def connect():
    for _ in range(600):  # valgrind starts the server slowly
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.connect()
            return conn
        except OSError:
            time.sleep(0.5)
    sys.exit("the server did not start")


def send(conn, body, headers=None):
    conn.request("POST", "/graphql", body=json.dumps(body),
                 headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def post(conn, body, headers=None):
    status, data = send(conn, body, headers)
    if status != 200 or b'"errors"' in data:
        sys.exit(f"unexpected answer {status}: {data[:300]!r}")
    return json.loads(data)


conn = connect()
if step == "setup":
    # Under valgrind a password hash can outlast the server's 10 s request timeout (408) on a
    # busy machine: sign up, then log in until one answer comes back in time.
    credentials = {"email": "profile@example.com", "password": "correct horse battery staple 42"}
    for name in ["signup", "login"] * 5:
        document = open(os.path.join(operations, f"{name}.graphql")).read()
        operation = {"signup": "Signup", "login": "Login"}[name]
        status, data = send(connect(), {"query": document, "operationName": operation,
                                        "variables": {"input": credentials}})
        if status == 200 and b'"accessToken"' in data:
            with open(token_file, "w") as f:
                f.write(json.loads(data)["data"][name]["accessToken"])
            break
    else:
        sys.exit("could not sign the profile user in")
else:
    me = {"query": open(os.path.join(operations, "me.graphql")).read(), "operationName": "Me"}
    headers = {"Authorization": "Bearer " + open(token_file).read()}
    for _ in range(int(sys.argv[3])):
        post(conn, me, headers)
