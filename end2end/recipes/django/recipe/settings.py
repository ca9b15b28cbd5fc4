"""The recipe's settings: Django's own minimum, and mozilla-django-oidc pointed at scanlogin.

Everything that differs per deployment comes from the environment: SCANLOGIN_ISSUER (the
provider's SCANLOGIN_PUBLIC_ORIGIN), OIDC_RP_CLIENT_ID, OIDC_RP_CLIENT_SECRET.
"""
import os

SCANLOGIN_ISSUER = os.environ["SCANLOGIN_ISSUER"]

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "recipe-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "recipe.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DATABASE", "recipe.sqlite3"),
    }
}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
USE_TZ = True

# scanlogin as the login.
AUTHENTICATION_BACKENDS = ["recipe.scanlogin.ScanloginBackend"]
OIDC_RP_CLIENT_ID = os.environ["OIDC_RP_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = os.environ["OIDC_RP_CLIENT_SECRET"]
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid profile"
OIDC_USE_PKCE = True
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{SCANLOGIN_ISSUER}/oauth/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{SCANLOGIN_ISSUER}/oauth/token"
OIDC_OP_USER_ENDPOINT = f"{SCANLOGIN_ISSUER}/oauth/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{SCANLOGIN_ISSUER}/oauth/jwks"
# Logging out of the site logs out of scanlogin too, which needs the ID token as a hint.
OIDC_STORE_ID_TOKEN = True
OIDC_OP_LOGOUT_URL_METHOD = "recipe.scanlogin.provider_logout"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
