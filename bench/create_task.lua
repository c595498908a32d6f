-- wrk script: create a task per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "created under load", "description": "bench"}'
