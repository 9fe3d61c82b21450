from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from jobs import dashboard_views
from jobs.api import compat
from jobs.api.docs import RedocView, SwaggerView
from jobs.downloads import signed_file
from jobs.metrics_view import metrics
from photopipe import health

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("admin/", admin.site.urls),
    # The seeds' routes (jobs/api/compat.py), before the API's own: the same jobs underneath.
    path("api/v1/analyze", compat.AnalyzeView.as_view(), name="compat-analyze"),
    path("api/v1/tasks/<str:pk>", compat.TaskView.as_view(), name="compat-task"),
    path("api/process/", compat.ProcessView.as_view(), name="compat-process"),
    path("upload", compat.UploadView.as_view(), name="compat-upload"),
    path("upload/", compat.UploadSlashView.as_view(), name="compat-upload-slash"),
    path("status/<str:pk>", compat.StatusView.as_view(), name="compat-status"),
    path("status/<str:pk>/", compat.StatusSlashView.as_view(), name="compat-status-slash"),
    # The live ops dashboard (staff only) and Prometheus metrics.
    path("dashboard/", dashboard_views.page, name="dashboard"),
    path("dashboard/panels/", dashboard_views.panels, name="dashboard-panels"),
    path("dashboard/charts/", dashboard_views.charts, name="dashboard-charts"),
    path("api/v1/", include("jobs.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and Redoc, their assets from drf-spectacular-sidecar (static files, no CDN).
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    # Probes for load balancers and orchestrators: no authentication, no trailing slash.
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics, name="prometheus-django-metrics"),
    path("readyz", health.readyz, name="readyz"),
    # Signed, expiring download links of local files (embedded mode); no token needed.
    path("files/<str:token>/", signed_file, name="signed-file"),
]

handler400 = "photopipe.errors.bad_request"
handler403 = "photopipe.errors.permission_denied"
handler404 = "photopipe.errors.page_not_found"
handler500 = "photopipe.errors.server_error"
