"""A negotiate function for switchboard serve in plain Python (standard library only): it hands the
official SignalR client the service's hub URL and an access token for it, as Azure SignalR
Service's serverless negotiate does, and shows a REST call (a broadcast) to the service."""
import base64
import hashlib
import hmac
import json
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

ENDPOINT = "http://localhost:8080"  # where switchboard serve listens (as clients reach it)
ACCESS_KEY = "change me"            # the service's --access-key
HUB = "chat"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_token(claims: dict, access_key: str) -> str:
    """An HS256 JWT signed with the access key's UTF-8 bytes."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(access_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def negotiate(user_id: str) -> dict:
    url = f"{ENDPOINT}/client/?hub={HUB}"
    claims = {"aud": url, "nameid": user_id, "exp": int(time.time()) + 3600}
    return {"url": url, "accessToken": sign_token(claims, ACCESS_KEY)}


def broadcast(target: str, *arguments) -> int:
    """POST /api/hubs/{hub}/:send; the token's audience is the URL without its query."""
    path = f"/api/hubs/{HUB}/:send"
    token = sign_token({"aud": ENDPOINT + path, "exp": int(time.time()) + 60}, ACCESS_KEY)
    request = urllib.request.Request(
        f"{ENDPOINT}{path}?api-version=2022-06-01",
        data=json.dumps({"target": target, "arguments": list(arguments)}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return response.status  # 202


class App(BaseHTTPRequestHandler):
    def do_POST(self):
        if not self.path.startswith("/api/negotiate"):
            self.send_error(404)
            return
        # Your own sign-in decides who the user is.
        body = json.dumps(negotiate(user_id="alice")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 7071), App).serve_forever()
