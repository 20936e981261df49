"""Settings, read once from the environment (prefix ``EXECLENS_``)."""

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


def _default_data_dir() -> Path:
    return Path(user_data_dir("execlens", appauthor=False))


class Settings(BaseSettings):
    """Everything execlens can be configured with."""

    model_config = SettingsConfigDict(env_prefix="EXECLENS_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    postgres_pool_size: int = Field(default=10, ge=1)

    jwt_secret: SecretStr | None = None
    jwt_audience: str | None = None
    jwt_role_claim: str = "role"
    jwt_admin_role: str = "admin"

    host: str = "127.0.0.1"
    port: int = Field(default=8321, ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "EXECLENS_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value

    @property
    def database_label(self) -> str:
        """Return the database URL with any password hidden, for printing."""
        return make_url(self.resolved_database_url).render_as_string(hide_password=True)

    @property
    def resolved_database_url(self) -> str:
        """Return the configured URL, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'execlens.db'}"
