"""Sign the fuzz user up on the throwaway server and print its access token (for run.sh)."""

from __future__ import annotations

import sys

import requests

SIGNUP = """
mutation Signup($input: SignupInput!) {
  signup(input: $input) { accessToken tokenType user { id email } }
}
"""


def main() -> int:
    base_url, email, password = sys.argv[1:4]
    response = requests.post(
        f"{base_url}/graphql",
        json={"query": SIGNUP, "variables": {"input": {"email": email, "password": password, "name": "Fuzz"}}},
        timeout=30,
    )
    try:
        payload = response.json()
        token = payload["data"]["signup"]["accessToken"]
    except (ValueError, KeyError, TypeError):
        print(f"signup failed: HTTP {response.status_code}: {response.text[:500]}", file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
