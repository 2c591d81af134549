"""schemathesis hooks for scripts/fuzz.sh: only where the schema language cannot say what the API checks."""
import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    # expiresAt must be in the future, which JSON Schema cannot state; past dates answer 400.
    if isinstance(body, dict) and isinstance(body.get("expiresAt"), str):
        return body["expiresAt"] > "2100"
    return True


@schemathesis.hook
def map_case(ctx, case):
    method = case.method.upper()
    query = case.query if isinstance(case.query, dict) else None
    # GET /v1/events streams until the client leaves, which a request-and-response check cannot
    # wait for: valid cases ask for the form that ends (follow=false: the events kept, then the end).
    if method == "GET" and case.operation.path == "/v1/events":
        if query is None:
            case.query = query = {}
        if query.get("follow") in (None, True, "true"):
            query["follow"] = "false"
    # A long-poll holds a request nobody works on (the fuzz API has no worker) for up to its timeout:
    # valid cases wait 1 s, so every case still runs the wait and its timeout answer.
    if method == "GET" and case.operation.path == "/v1/requests/{requestId}" and query and "wait" in query:
        t = query.get("timeout")
        if t is None or (str(t).isdigit() and 1 <= int(t) <= 60):
            query["timeout"] = 1
    return case
