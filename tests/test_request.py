"""The one request helper every test client and ``mlops invoke`` use (``endpoints.request``), against a
real socket server on 127.0.0.1 that answers from the headers alone and closes before the body is
sent, as Azure's server does with a 413 for an oversized Content-Length."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from mlops.serving import endpoints

ANSWER = b'{"error": "the request body is too large"}'
BODY = b"x" * (4 * 1024 * 1024)  # far more than the socket buffers hold: the send must break


def serve(listener: socket.socket, answer: bool) -> None:
    """Take connections until the listener closes: read the headers, answer 413 (or not) and close
    with the body unread, so the kernel resets the connection under the sender."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            received = b""
            while b"\r\n\r\n" not in received and (chunk := connection.recv(65536)):
                received += chunk
            if answer:
                head = (
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(ANSWER)}\r\nConnection: close\r\n\r\n"
                )
                connection.sendall(head.encode() + ANSWER)


@pytest.fixture(params=[True, False], ids=["answers", "silent"])
def early_closer(request) -> Iterator[tuple[int, bool]]:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve, args=(listener, request.param), daemon=True)
    thread.start()
    yield listener.getsockname()[1], request.param
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
    listener.close()
    thread.join(5)


def test_an_answer_sent_before_the_body_is_read_after_the_send_breaks(early_closer):
    port, answers = early_closer
    for _ in range(5):  # the race goes both ways: the pipe breaks, or the reset comes first
        if answers:
            status, body, headers = endpoints.request(port, "POST", "/score", 10, BODY, {})
            assert (status, body) == (413, {"error": "the request body is too large"})
            assert headers["Content-Type"] == "application/json"
        else:  # a server that closed without answering is an error, never a made-up status
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                endpoints.request(port, "POST", "/score", 10, BODY, {})
