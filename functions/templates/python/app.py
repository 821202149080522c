"""{{name}}: an Eddy function in Python, called with each batch of changes of the tables
its triggers watch (see README.md)."""

import eddy


def handler(event, ctx):
    # A scheduled tick ([[schedule]] in eddy.toml) has no records.
    if event.is_scheduled:
        ctx.log.info("scheduled tick", time=event.time)
        return None

    for record in event.records:
        # event_name is INSERT, MODIFY or REMOVE; keys, new_image and old_image are dicts
        # of native Python values (str, int, decimal.Decimal, bytes, set, list, dict, ...).
        ctx.log.info(record.event_name, keys=record.keys, seq=record.sequence_number)

        # Write to another table (grant it: tables = [...] in eddy.toml):
        # if record.new_image:
        #     ctx.dynamodb.put("audit", {"id": record.event_id, **record.new_image})
        # item = ctx.dynamodb.get("users", {"id": "42"})
        # ctx.dynamodb.update("counters", {"id": "all"}, expression="ADD #n :one",
        #                     names={"#n": "count"}, values={":one": 1})

    # None means every record succeeded. To have Eddy retry from a record on, return the
    # records that failed (Lambda's partial batch response):
    # response = eddy.BatchResponse()
    # response.fail(record)
    # return response
    # Raising an exception fails the whole batch (retried per the trigger's settings).
    return None
