"""`GET /metrics`: Prometheus metrics, behind a token or an address allow-list.

Two sources end up in one answer:

- counters and histograms that processes keep while they work (gate decisions and
  their latency, fail-mode decisions, Celery task outcomes, notifications sent), in
  prometheus-client's multiprocess files (`trustconsole.lib.metrics`);
- gauges read from the database at scrape time by `StateCollector` (review queues,
  overdue account reviews, failing webhook deliveries, Do-Not-Call freshness), so
  every process answers the same whichever one is asked.

Nothing is exposed unless `METRICS_TOKEN` or `METRICS_ALLOW_NETWORKS` is set (404
otherwise). With a token, a request needs `Authorization: Bearer <token>` (401
without it, 403 with a wrong one); with networks, the client address (trusted
proxies as the rest of the console reads them) must be inside one (403); with both,
both must hold.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from trustconsole.lib import metrics
from trustconsole.lib.clientip import client_ip

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _networks(
    values: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def access_refusal(request: HttpRequest) -> HttpResponse | None:
    """The 401/403/404 answer for a request that may not read the metrics."""
    token = settings.METRICS_TOKEN
    networks = _networks(tuple(settings.METRICS_ALLOW_NETWORKS))
    if not token and not networks:
        return JsonResponse(
            {"detail": "Metrics are off: set METRICS_TOKEN or METRICS_ALLOW_NETWORKS."},
            status=404,
        )
    if networks:
        address = client_ip(request.META)
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            ip = None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip is None or not any(ip in network for network in networks):
            return JsonResponse(
                {"detail": "This address may not read the metrics."}, status=403
            )
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = JsonResponse(
                {"detail": "Send Authorization: Bearer <METRICS_TOKEN>."}, status=401
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return JsonResponse({"detail": "Wrong metrics token."}, status=403)
    return None


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    return max((now - then).total_seconds(), 0.0) if then else 0.0


class StateCollector(Collector):
    """Gauges of what waits in the database, read when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "trustconsole_metrics_database_up",
            "1 when this scrape could read the database gauges, 0 when it could not.",
        )
        try:
            found = list(self._from_database())
        except Exception:  # the counters are still worth answering with
            logger.exception("metrics: could not read the database gauges")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _from_database(self) -> Iterator[Metric]:
        from accounts.choices import RequestStatus
        from accounts.models import ReassessmentRequest
        from remediation.choices import DeliveryStatus
        from remediation.models import WebhookDelivery
        from trustconsole.core.models import Organisation
        from visitors.choices import ReviewStatus
        from visitors.models import ReviewItem
        from voicegate.models import OutboxItem
        from voicegate.policy.models import DncList

        now = timezone.now()
        today = timezone.localdate()
        slugs = dict(Organisation.objects.values_list("pk", "slug"))

        size = GaugeMetricFamily(
            "trustconsole_review_queue_items",
            "Items waiting in a review queue (visitors: open review items; accounts: "
            "pending reassessment requests).",
            labels=["queue", "organisation"],
        )
        oldest = GaugeMetricFamily(
            "trustconsole_review_queue_oldest_age_seconds",
            "Age of the oldest item waiting in a review queue (0 when empty).",
            labels=["queue", "organisation"],
        )
        overdue = GaugeMetricFamily(
            "trustconsole_review_queue_overdue_items",
            "Items of a review queue past their due time (visitors: waiting longer "
            "than VISITORS_REVIEW_OVERDUE_HOURS; accounts: past the due date).",
            labels=["queue", "organisation"],
        )
        late = now - dt.timedelta(hours=settings.VISITORS_REVIEW_OVERDUE_HOURS)
        visitors = {
            row["organisation_id"]: row
            for row in ReviewItem.objects.filter(status=ReviewStatus.OPEN)
            .values("organisation_id")
            .annotate(
                n=Count("id"),
                first=Min("created_at"),
                late=Count("id", filter=Q(created_at__lt=late)),
            )
            .order_by()
        }
        accounts = {
            row["organisation_id"]: row
            for row in ReassessmentRequest.objects.filter(status=RequestStatus.PENDING)
            .values("organisation_id")
            .annotate(
                n=Count("id"),
                first=Min("submitted_at"),
                late=Count("id", filter=Q(due_on__lte=today)),
            )
            .order_by()
        }
        for org_id, slug in slugs.items():
            for queue, rows in (("visitors", visitors), ("accounts", accounts)):
                row: Mapping[str, Any] = rows.get(org_id) or {
                    "n": 0,
                    "first": None,
                    "late": 0,
                }
                size.add_metric([queue, slug], row["n"])
                oldest.add_metric([queue, slug], _age(now, row["first"]))
                overdue.add_metric([queue, slug], row["late"])
        yield size
        yield oldest
        yield overdue

        failing = GaugeMetricFamily(
            "trustconsole_webhook_deliveries_failing",
            "Outbound deliveries not (yet) through: retrying after an error "
            "(state=retrying) or given up (state=failed). kind: the call gate's "
            "outbox (reject, forward) or remediation status webhooks (status).",
            labels=["kind", "state", "organisation"],
        )
        for item in (
            OutboxItem.objects.filter(delivered_at__isnull=True)
            .filter(Q(gave_up_at__isnull=False) | Q(attempts__gt=0))
            .values("organisation_id", "kind")
            .annotate(
                retrying=Count("id", filter=Q(gave_up_at__isnull=True)),
                failed=Count("id", filter=Q(gave_up_at__isnull=False)),
            )
            .order_by()
        ):
            slug = slugs.get(item["organisation_id"], "")
            failing.add_metric([item["kind"], "retrying", slug], item["retrying"])
            failing.add_metric([item["kind"], "failed", slug], item["failed"])
        for delivery in (
            WebhookDelivery.objects.filter(
                Q(status=DeliveryStatus.FAILED)
                | Q(status=DeliveryStatus.PENDING, attempts__gt=0)
            )
            .values("organisation_id")
            .annotate(
                retrying=Count("id", filter=Q(status=DeliveryStatus.PENDING)),
                failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)),
            )
            .order_by()
        ):
            slug = slugs.get(delivery["organisation_id"], "")
            failing.add_metric(["status", "retrying", slug], delivery["retrying"])
            failing.add_metric(["status", "failed", slug], delivery["failed"])
        yield failing

        as_of = GaugeMetricFamily(
            "trustconsole_dnc_list_as_of_age_seconds",
            "How old the registry file in use by a Do-Not-Call list is (its as_of "
            "date, start of day UTC); lists without a date are left out.",
            labels=["organisation", "list", "kind"],
        )
        entries = GaugeMetricFamily(
            "trustconsole_dnc_list_entries",
            "Numbers on a Do-Not-Call list.",
            labels=["organisation", "list", "kind"],
        )
        for dnc in DncList.objects.values(
            "organisation_id", "name", "kind", "as_of", "entry_count"
        ).order_by("organisation_id", "name"):
            labels = [slugs.get(dnc["organisation_id"], ""), dnc["name"], dnc["kind"]]
            entries.add_metric(labels, dnc["entry_count"])
            if dnc["as_of"] is not None:
                start = dt.datetime.combine(dnc["as_of"], dt.time(), tzinfo=dt.UTC)
                as_of.add_metric(labels, _age(now, start))
        yield as_of
        yield entries


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: every process's counters plus database gauges."""
    refused = access_refusal(request)
    if refused is not None:
        return refused
    body, content_type = metrics.exposition(StateCollector())
    return HttpResponse(body, content_type=content_type)
