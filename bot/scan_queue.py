"""Organisation scans on the queue: one task per installation, one per repository."""

from __future__ import annotations

import importlib
import json
import logging
import uuid
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING

from huey import crontab  # type: ignore[import-untyped]
from huey.api import Task  # type: ignore[import-untyped]
from huey.exceptions import (  # type: ignore[import-untyped]
    RetryTask,
    TaskLockedException,
)

from bot.setting_values import cron_fields
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.queue import JobQueue

logger = logging.getLogger(__name__)

SCAN_RETRIES = 3
SCAN_RETRY_SECONDS = 60.0
_LOCK_PREFIX = "repo:"


class ScanTasks:
    """The scan's tasks on the queue's huey, and the schedule when one is set."""

    def __init__(self, queue: JobQueue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings
        huey = queue.huey
        self._account_task = huey.task(retries=SCAN_RETRIES, name="scan_account_task")(
            self._account
        )
        self._repository_task = huey.task(
            retries=SCAN_RETRIES, context=True, name="scan_repository_task"
        )(self._repository)
        if settings.scan_schedule:
            schedule = crontab(**cron_fields(settings.scan_schedule), strict=True)
            huey.periodic_task(schedule, name="scheduled_scan_task")(self._scheduled)
            # Consumers look for periodic tasks only when told to.
            queue.periodic = True

    def start(
        self, installation_ids: list[int] | None = None, *, dry_run: bool = False
    ) -> str:
        """Queue a scan of these installations (every one when None); its id."""
        scan_id = f"scan-{uuid.uuid4()}"
        if installation_ids is None:
            installation_ids = [
                account.installation_id
                for account in _org().AppApi(self.settings).accounts()
            ]
        for installation_id in installation_ids:
            self._account_task(installation_id, scan_id, dry_run)
        logger.info("scan queued", extra={"delivery": scan_id})
        return scan_id

    def _scheduled(self) -> None:
        # Every consumer that runs periodic tasks fires this; the first one wins.
        minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
        store = _store().open_store(self.settings)
        try:
            if not store.claim_delivery(f"scheduled-scan-{minute}"):
                return
        finally:
            store.close()
        self.start()

    def _account(self, installation_id: int, scan_id: str, dry_run: bool) -> None:
        scan = _scan()
        listed = _org().AppApi(self.settings).repositories(installation_id)
        queued = 0
        for each in listed:
            context = {"delivery": scan_id, "repo": each.full_name}
            reason = scan.listed_skip(each)
            if reason:
                logger.info("repository skipped", extra={**context, "reason": reason})
                continue
            job = scan.RepoScan(
                installation_id, each.owner, each.name, scan_id, dry_run
            )
            self._repository_task(json.dumps(job.to_json()))
            queued += 1
        logger.info(
            "installation scan queued %d repositories",
            queued,
            extra={"delivery": scan_id, "installation": installation_id},
        )

    def _repository(self, job_json: str, task: Task) -> None:
        scan = _scan()
        job = scan.RepoScan.from_json(json.loads(job_json))
        context = job.log_context()
        lock = self.queue.huey.lock_task(
            _LOCK_PREFIX + job.full_name.lower(), ttl=self.queue.lock_seconds
        )
        limits = _limits().open_limits(self.settings)
        try:
            with lock:
                outcome = scan.scan_repository(job, self.settings, limits)
        except TaskLockedException:
            raise RetryTask(delay=self.queue.locked_delay) from None
        except scan.Deferred as error:
            # A cap is not a failure: the wait is not one of the retries.
            logger.info(
                "repository scan waits", extra={**context, "delay": error.delay}
            )
            raise RetryTask(delay=error.delay) from error
        except _github().Transient as error:
            if task.retries <= 0:
                logger.error("repository scan gave up", extra=context)
                return
            delay = error.retry_after or SCAN_RETRY_SECONDS
            logger.warning(
                "repository scan will retry", extra={**context, "delay": delay}
            )
            task.retries -= 1
            raise RetryTask(delay=delay) from error
        logger.info(
            "repository scanned",
            extra={**context, "outcome": str(outcome.status), "reason": outcome.reason},
        )


# Imported when a task runs: a web-only process never loads the job's modules.
def _scan() -> ModuleType:
    return importlib.import_module("bot.scan")


def _org() -> ModuleType:
    return importlib.import_module("bot.org")


def _limits() -> ModuleType:
    return importlib.import_module("bot.limits")


def _store() -> ModuleType:
    return importlib.import_module("bot.store")


def _github() -> ModuleType:
    return importlib.import_module("bot.github")
