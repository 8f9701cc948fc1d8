"""URLs of the call-gate benchmark: the console's own, plus the baselines."""

from __future__ import annotations

from django.urls import path

from bench import chat_gate, gate_baselines
from trustconsole.urls import urlpatterns as console_urlpatterns

urlpatterns = [
    path("bench/naive/<str:token>/", gate_baselines.naive_gate),
    path("bench/bare/<str:token>/", gate_baselines.bare_view),
    path("bench/naive-chat/", chat_gate.naive_chat),
    *console_urlpatterns,
]
