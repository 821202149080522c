"""welcome-email in Python: one welcome mail per new user, sent once even when batches
are retried. The same behaviour as the Rust function in
functions/pipelines/welcome-email (see ../README.md).

Runs on the stream (NEW_IMAGE or NEW_AND_OLD_IMAGES) of a users table whose items have a
string `email` and, optionally, a string `name`. Every INSERT sends one plain-text mail
through the `email` capability, with the idempotency key `welcome/<the item's key>`: the
host remembers keys whose mail the SMTP server accepted, so a retried or replayed batch
mails nobody twice. MODIFY and REMOVE send nothing. An item without a usable email, or a
message the host calls invalid, is logged and skipped (one bad item must not hold up the
stream); a transient SMTP failure fails the batch, which the trigger retries.

Configuration (the deployment's environment): FROM (the sender) and APP_NAME.
"""

import eddy

FROM_DEFAULT = "Eddy <welcome@eddy.local>"
APP_NAME_DEFAULT = "Eddy"


def idempotency_key(keys):
    """`welcome/<key values>`, joined by `/` in attribute-name order, with `%` and `/`
    escaped inside a value so that two different keys never share a name."""
    parts = ["welcome"]
    for name in sorted(keys):
        value = keys[name]
        if isinstance(value, bytes):
            value = value.hex()
        parts.append(str(value).replace("%", "%25").replace("/", "%2F"))
    return "/".join(parts)


def compose(app, name):
    """The subject and body of the welcome mail."""
    name = name.strip() if isinstance(name, str) else ""
    subject = "Welcome to %s, %s!" % (app, name) if name else "Welcome to %s!" % app
    body = (
        "Hi %s,\n\nwelcome to %s! Your account is ready, and we are glad to have you.\n\n"
        "If you did not sign up, you can ignore this message.\n\nThe %s team\n"
    ) % (name or "there", app, app)
    return subject, body


def handler(event, ctx):
    sender = ctx.config.get("FROM", FROM_DEFAULT)
    app = ctx.config.get("APP_NAME", APP_NAME_DEFAULT)
    for record in event.records:
        if record.event_name != "INSERT":
            continue
        key = idempotency_key(record.keys)
        image = record.new_image
        if image is None:
            ctx.log.warn("skipped: no NewImage (use StreamViewType NEW_IMAGE or NEW_AND_OLD_IMAGES)",
                         key=key)
            continue
        to = image.get("email")
        if not isinstance(to, str):
            ctx.log.warn("skipped: the user has no string email", key=key)
            continue
        subject, body = compose(app, image.get("name"))
        try:
            message_id = ctx.email.send(sender, to, subject, body, idempotency_key=key)
        except eddy.EmailError as err:
            if err.kind == "invalid":
                ctx.log.warn("skipped: invalid e-mail", to=to, key=key, error=err.message)
                continue
            ctx.log.error("welcome e-mail not sent; the batch will be retried",
                          to=to, key=key, error=str(err))
            # Raising fails the batch: the trigger retries it, and the mails already
            # accepted are not sent again (their keys are recorded).
            raise
        ctx.log.info("welcome e-mail sent", to=to, key=key, messageId=message_id)
    return None
