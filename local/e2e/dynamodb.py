"""moto's DynamoDB server, applying one request at a time.

DynamoDB applies each conditional write atomically. moto's threaded server
checks a condition and then writes as separate Python steps, so two
concurrent conditional updates of one item can both pass and one is lost.
The guest store's history appends rely on that atomicity (an optimistic
version per session), so its tests and CI run moto's app behind one lock.
Request bodies are read before the lock, so a slow or cut client holds up
nobody else.

    python3 local/e2e/dynamodb.py -p 8001      # needs pip install 'moto[server]'
"""

import argparse
import io
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wsgi import get_input_stream


class OneRequestAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                answer = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return [answer]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, OneRequestAtATime(app), threaded=True)


if __name__ == "__main__":
    main()
