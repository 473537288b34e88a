from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("image/", views.image_page, name="image"),
    path("image/options/", views.image_options, name="image_options"),
    path("jobs/", views.job_create, name="job_create"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/card/", views.job_card, name="job_card"),
    path("jobs/<int:job_id>/regenerate/", views.job_regenerate, name="job_regenerate"),
    path("jobs/<int:job_id>/delete/", views.job_delete, name="job_delete"),
    path("creations/", views.creations, name="creations"),
    path("files/<int:asset_id>/", views.asset_file, name="asset_file"),
    path("video/", views.service_soon, {"service": "video"}, name="video"),
    path("avatar/", views.service_soon, {"service": "avatar"}, name="avatar"),
]
