"""The process helper the UI tests rely on to leave no orphans: it must kill a whole session."""

import os
import time

from user_activity_tests.dagster_services import Service, processes_in_session


def test_stop_kills_every_process_of_the_session_even_if_sigterm_is_ignored(tmp_path):
    # sh and its background child ignore SIGTERM (an ignored signal survives exec), so only the
    # SIGKILL that follows the bounded wait can end them
    service = Service(
        "sleepers", ["sh", "-c", "trap '' TERM; sleep 300 & sleep 300"], dict(os.environ), tmp_path
    )
    deadline = time.monotonic() + 10
    while len(service.session_members()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    members = service.session_members()
    assert len(members) == 3  # sh and two sleeps

    started = time.monotonic()
    assert service.stop(timeout=1) == []
    assert time.monotonic() - started < 10
    assert processes_in_session(service.process.pid) == []
    assert service.process.returncode == -9
