"""What a Django site needs beyond settings to log in with scanlogin.

WeChat gives no email, and mozilla-django-oidc's default backend needs one: it would make
a user named after a hash of "None", and the same person's second login would fail on the
unique username. This backend makes scanlogin's `sub` (stable, one per person) the
username instead, and keeps `name` (with the `profile` scope) as the first name.
"""
from urllib.parse import urlencode

from django.conf import settings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend


class ScanloginBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=claims["sub"])

    def create_user(self, claims):
        return self.UserModel.objects.create_user(
            username=claims["sub"], first_name=claims.get("name", "")[:150]
        )

    def update_user(self, user, claims):
        user.first_name = claims.get("name", "")[:150]
        user.save(update_fields=["first_name"])
        return user


def provider_logout(request):
    """Where logging out sends the browser: scanlogin's end-session endpoint, which ends
    the scanlogin session too and comes back here (the URL is registered as the client's
    post_logout_redirect_uris)."""
    query = urlencode(
        {
            "id_token_hint": request.session.get("oidc_id_token", ""),
            "post_logout_redirect_uri": request.build_absolute_uri("/"),
        }
    )
    return f"{settings.SCANLOGIN_ISSUER}/oauth/logout?{query}"
