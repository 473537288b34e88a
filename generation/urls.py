from django.urls import path

from . import files, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("image/", views.studio_page, {"service": "image"}, name="image"),
    path("video/", views.studio_page, {"service": "video"}, name="video"),
    path("audio/", views.studio_page, {"service": "audio"}, name="audio"),
    path("studio/<str:service>/options/", views.studio_options, name="studio_options"),
    path("audio/voices/<str:voice>/sample/", views.voice_sample, name="voice_sample"),
    path("studio/references/", views.reference_results, name="reference_results"),
    path("avatar/", views.avatar_page, name="avatar"),
    path("speak/", views.speak_page, name="speak"),
    path("speak/generate/", views.speak_create, name="speak_create"),
    path("avatar/generate/", views.avatar_create, name="avatar_create"),
    path("avatar/price/", views.avatar_price, name="avatar_price"),
    path("jobs/", views.job_create, name="job_create"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/card/", views.job_card, name="job_card"),
    path("jobs/<int:job_id>/regenerate/", views.job_regenerate, name="job_regenerate"),
    path("jobs/<int:job_id>/extend/", views.job_extend, name="job_extend"),
    path("jobs/<int:job_id>/delete/", views.job_delete, name="job_delete"),
    path("jobs/<int:job_id>/showcase/<int:asset_id>/", views.job_showcase, name="job_showcase"),
    path("jobs/<int:job_id>/tools/<slug:slug>/", views.job_tool, name="job_tool"),
    path("creations/", views.creations, name="creations"),
    path("files/<int:asset_id>/", files.asset_file, name="asset_file"),
    path("files/<int:asset_id>/poster/", files.asset_poster, name="asset_poster"),
    path("uploads/<int:upload_id>/", files.upload_file, name="upload_file"),
    path("showcase/<int:item_id>/", files.showcase_file, name="showcase_file"),
    path("showcase/<int:item_id>/poster/", files.showcase_poster, name="showcase_poster"),
    path("uploads/<int:upload_id>/delete/", views.upload_delete, name="upload_delete"),
]
