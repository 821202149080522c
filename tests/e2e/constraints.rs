//! The member constraints of the data-plane operations and the Streams API, one row
//! per constraint: DynamoDB's service model (botocore's `service-2.json`) gives each
//! member's type, length, range and enum; the messages are DynamoDB's, as dynalite's
//! tests record them against real DynamoDB where they do ("N validation errors
//! detected: Value ... at '<memberPath>' failed to satisfy constraint: ..."). Each row
//! is sent raw, so no client-side validation stands in between.

use crate::harness::{Server, raw_request};

/// (X-Amz-Target, request body, DynamoDB's ValidationException message).
const ROWS: &[(&str, &str, &str)] = &[
    (
        "DynamoDB_20120810.GetItem",
        r#"{"Key":{"pk":{"S":"a"}}}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl"}"#,
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"AttributesToGet":[]}"#,
        "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"Key":{"pk":{"S":"a"}}}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl"}"#,
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnValues":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnItemCollectionMetrics":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnValuesOnConditionCheckFailure":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ConditionalOperator":"x"}"#,
        "1 validation error detected: Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
    ),
    (
        "DynamoDB_20120810.DeleteItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"Expected":{"a":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"Key":{"pk":{"S":"a"}}}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl"}"#,
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnValues":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnItemCollectionMetrics":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ReturnValuesOnConditionCheckFailure":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"ConditionalOperator":"x"}"#,
        "1 validation error detected: Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"Expected":{"a":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{}"#,
        "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}},"AttributeUpdates":{"a":{"Action":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'attributeUpdates.a.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"Item":{"pk":{"S":"a"}}}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl"}"#,
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnItemCollectionMetrics":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnValues":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ConditionalOperator":"x"}"#,
        "1 validation error detected: Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnValuesOnConditionCheckFailure":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","Item":{"pk":{"S":"a"}},"Expected":{"a":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"Select":"x"}"#,
        "1 validation error detected: Value 'x' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"ConditionalOperator":"x"}"#,
        "1 validation error detected: Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"AttributesToGet":[]}"#,
        "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"IndexName":"ab"}"#,
        "1 validation error detected: Value 'ab' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"IndexName":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "1 validation error detected: Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'indexName' failed to satisfy constraint: Member must have length less than or equal to 255",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"IndexName":"ab;c"}"#,
        "1 validation error detected: Value 'ab;c' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"QueryFilter":{"a":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'queryFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}},"QueryFilter":{"a":{}}}"#,
        "1 validation error detected: Value null at 'queryFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{}"#,
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Select":"x"}"#,
        "1 validation error detected: Value 'x' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","ConditionalOperator":"x"}"#,
        "1 validation error detected: Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","AttributesToGet":[]}"#,
        "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","IndexName":"ab"}"#,
        "1 validation error detected: Value 'ab' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","IndexName":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "1 validation error detected: Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'indexName' failed to satisfy constraint: Member must have length less than or equal to 255",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","IndexName":"ab;c"}"#,
        "1 validation error detected: Value 'ab;c' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","ScanFilter":{"a":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","ScanFilter":{"a":{}}}"#,
        "1 validation error detected: Value null at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditions":{"pk":{"ComparisonOperator":"x"}}}"#,
        "1 validation error detected: Value 'x' at 'keyConditions.pk.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","KeyConditions":{"pk":{}}}"#,
        "1 validation error detected: Value null at 'keyConditions.pk.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Segment":-1,"TotalSegments":2}"#,
        "1 validation error detected: Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Segment":1000000,"TotalSegments":2}"#,
        "1 validation error detected: Value '1000000' at 'segment' failed to satisfy constraint: Member must have value less than or equal to 999999",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Segment":0,"TotalSegments":0}"#,
        "1 validation error detected: Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"TableName":"tbl","Segment":0,"TotalSegments":1000001}"#,
        "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{}"#,
        "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{}}"#,
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{"tbl":{"Keys":[{"pk":{"S":"a"}}]}},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{"tbl":{}}}"#,
        "1 validation error detected: Value null at 'requestItems.tbl.member.keys' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{"tbl":{"Keys":[]}}}"#,
        "1 validation error detected: Value '[]' at 'requestItems.tbl.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{"tbl":{"Keys":[{"pk":{"S":"a"}}],"AttributesToGet":[]}}}"#,
        "1 validation error detected: Value '[]' at 'requestItems.tbl.member.attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{}"#,
        "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{}}"#,
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{"tbl":[]}}"#,
        "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{"tbl":[{"PutRequest":{"Item":{"pk":{"S":"a"}}}}]},"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{"tbl":[{"PutRequest":{"Item":{"pk":{"S":"a"}}}}]},"ReturnItemCollectionMetrics":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{"tbl":[{"PutRequest":{}}]}}"#,
        "1 validation error detected: Value null at 'requestItems.tbl.member.1.member.putRequest.item' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"RequestItems":{"tbl":[{"DeleteRequest":{}}]}}"#,
        "1 validation error detected: Value null at 'requestItems.tbl.member.1.member.deleteRequest.key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{}"#,
        "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"TransactItems":[]}"#,
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"TransactItems":[{}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.get' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"TransactItems":[{"Get":{"Key":{"pk":{"S":"a"}}}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.get.tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"TransactItems":[{"Get":{"TableName":"tbl"}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.get.key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"TransactItems":[{"Get":{"TableName":"tbl","Key":{"pk":{"S":"a"}}}}],"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{}"#,
        "1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[]}"#,
        "1 validation error detected: Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"Item":{"pk":{"S":"a"}}}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.put.tableName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl"}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.put.item' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Delete":{"TableName":"tbl"}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.delete.key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Update":{"TableName":"tbl","Key":{"pk":{"S":"a"}}}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"ConditionCheck":{"TableName":"tbl","Key":{"pk":{"S":"a"}}}}]}"#,
        "1 validation error detected: Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}},"ReturnValuesOnConditionCheckFailure":"x"}}]}"#,
        "1 validation error detected: Value 'x' at 'transactItems.1.member.put.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}}}}],"ClientRequestToken":""}"#,
        "1 validation error detected: Value '' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}}}}],"ClientRequestToken":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "1 validation error detected: Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}}}}],"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}}}}],"ReturnItemCollectionMetrics":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{}"#,
        "1 validation error detected: Value null at 'statement' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":""}"#,
        "1 validation error detected: Value '' at 'statement' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":"SELECT * FROM tbl","Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":"SELECT * FROM tbl","NextToken":""}"#,
        "1 validation error detected: Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":"SELECT * FROM tbl","Parameters":[]}"#,
        "1 validation error detected: Value '[]' at 'parameters' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":"SELECT * FROM tbl","ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Statement":"SELECT * FROM tbl","ReturnValuesOnConditionCheckFailure":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{}"#,
        "1 validation error detected: Value null at 'statements' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[]}"#,
        "1 validation error detected: Value '[]' at 'statements' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{}]}"#,
        "1 validation error detected: Value null at 'statements.1.member.statement' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{"Statement":""}]}"#,
        "1 validation error detected: Value '' at 'statements.1.member.statement' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{"Statement":"SELECT * FROM tbl","Parameters":[]}]}"#,
        "1 validation error detected: Value '[]' at 'statements.1.member.parameters' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{"Statement":"SELECT * FROM tbl","ReturnValuesOnConditionCheckFailure":"x"}]}"#,
        "1 validation error detected: Value 'x' at 'statements.1.member.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{"Statement":"SELECT * FROM tbl"}],"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{}"#,
        "1 validation error detected: Value null at 'transactStatements' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[]}"#,
        "1 validation error detected: Value '[]' at 'transactStatements' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{}]}"#,
        "1 validation error detected: Value null at 'transactStatements.1.member.statement' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":""}]}"#,
        "1 validation error detected: Value '' at 'transactStatements.1.member.statement' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'","Parameters":[]}]}"#,
        "1 validation error detected: Value '[]' at 'transactStatements.1.member.parameters' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'","ReturnValuesOnConditionCheckFailure":"x"}]}"#,
        "1 validation error detected: Value 'x' at 'transactStatements.1.member.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'"}],"ClientRequestToken":""}"#,
        "1 validation error detected: Value '' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'"}],"ClientRequestToken":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
        "1 validation error detected: Value 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'"}],"ReturnConsumedCapacity":"x"}"#,
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDBStreams_20120810.ListStreams",
        r#"{"Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDBStreams_20120810.ListStreams",
        r#"{"TableName":"ab"}"#,
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
    ),
    (
        "DynamoDBStreams_20120810.ListStreams",
        r#"{"TableName":"ab;c"}"#,
        "1 validation error detected: Value 'ab;c' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    ),
    (
        "DynamoDBStreams_20120810.ListStreams",
        r#"{"ExclusiveStartStreamArn":"a"}"#,
        "1 validation error detected: Value 'a' at 'exclusiveStartStreamArn' failed to satisfy constraint: Member must have length greater than or equal to 37",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{}"#,
        "1 validation error detected: Value null at 'streamArn' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"a"}"#,
        "1 validation error detected: Value 'a' at 'streamArn' failed to satisfy constraint: Member must have length greater than or equal to 37",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ExclusiveStartShardId":"a"}"#,
        "1 validation error detected: Value 'a' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 28",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardFilter":{"Type":"x"}}"#,
        "1 validation error detected: Value 'x' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardFilter":{"Type":"CHILD_SHARDS","ShardId":"a"}}"#,
        "1 validation error detected: Value 'a' at 'shardFilter.shardId' failed to satisfy constraint: Member must have length greater than or equal to 28",
    ),
    (
        "DynamoDBStreams_20120810.GetShardIterator",
        r#"{}"#,
        "3 validation errors detected: Value null at 'streamArn' failed to satisfy constraint: Member must not be null; Value null at 'shardId' failed to satisfy constraint: Member must not be null; Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDBStreams_20120810.GetShardIterator",
        r#"{"StreamArn":"a","ShardId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardIteratorType":"LATEST"}"#,
        "1 validation error detected: Value 'a' at 'streamArn' failed to satisfy constraint: Member must have length greater than or equal to 37",
    ),
    (
        "DynamoDBStreams_20120810.GetShardIterator",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardId":"a","ShardIteratorType":"LATEST"}"#,
        "1 validation error detected: Value 'a' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 28",
    ),
    (
        "DynamoDBStreams_20120810.GetShardIterator",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardIteratorType":"x"}"#,
        "1 validation error detected: Value 'x' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
    ),
    (
        "DynamoDBStreams_20120810.GetShardIterator",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa","ShardIteratorType":"AT_SEQUENCE_NUMBER","SequenceNumber":"1"}"#,
        "1 validation error detected: Value '1' at 'sequenceNumber' failed to satisfy constraint: Member must have length greater than or equal to 21",
    ),
    (
        "DynamoDBStreams_20120810.GetRecords",
        r#"{}"#,
        "1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDBStreams_20120810.GetRecords",
        r#"{"ShardIterator":""}"#,
        "1 validation error detected: Value '' at 'shardIterator' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ),
    (
        "DynamoDBStreams_20120810.GetRecords",
        r#"{"ShardIterator":"a","Limit":0}"#,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchWriteItem",
        r#"{"ReturnConsumedCapacity":"hi","ReturnItemCollectionMetrics":"hi"}"#,
        "3 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value 'hi' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]; Value null at 'requestItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.BatchGetItem",
        r#"{"RequestItems":{"tbl":{}},"ReturnConsumedCapacity":"hi"}"#,
        "2 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value null at 'requestItems.tbl.member.keys' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl","ReturnConsumedCapacity":"hi"}"#,
        "2 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDBStreams_20120810.DescribeStream",
        r#"{"StreamArn":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","Limit":0,"ExclusiveStartShardId":"a"}"#,
        "2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'a' at 'exclusiveStartShardId' failed to satisfy constraint: Member must have length greater than or equal to 28",
    ),
    (
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl","ReturnConsumedCapacity":"hi","AttributesToGet":[]}"#,
        "3 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.UpdateItem",
        r#"{"TableName":"tbl","ReturnConsumedCapacity":"hi","ReturnItemCollectionMetrics":"hi","ReturnValues":"hi"}"#,
        "4 validation errors detected: Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value 'hi' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]; Value 'hi' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; Value null at 'key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"tbl","ReturnValues":"hi"}"#,
        "2 validation errors detected: Value 'hi' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; Value null at 'item' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.Scan",
        r#"{"Limit":0,"Select":"x","ConditionalOperator":"x","Segment":-1,"TotalSegments":0}"#,
        "6 validation errors detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value 'x' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'x' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]; Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0; Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.Query",
        r#"{"TableName":"tbl","ReturnConsumedCapacity":"x","IndexName":"a;","Limit":-1}"#,
        "4 validation errors detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value 'a;' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a;' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3; Value '-1' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"ReturnConsumedCapacity":"x","ClientRequestToken":""}"#,
        "3 validation errors detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'transactItems' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.TransactWriteItems",
        r#"{"TransactItems":[{"Update":{"ReturnValuesOnConditionCheckFailure":"x"}}]}"#,
        "4 validation errors detected: Value null at 'transactItems.1.member.update.tableName' failed to satisfy constraint: Member must not be null; Value null at 'transactItems.1.member.update.key' failed to satisfy constraint: Member must not be null; Value null at 'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member must not be null; Value 'x' at 'transactItems.1.member.update.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
    ),
    (
        "DynamoDB_20120810.TransactGetItems",
        r#"{"ReturnConsumedCapacity":"x","TransactItems":[{"Get":{}}]}"#,
        "3 validation errors detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value null at 'transactItems.1.member.get.tableName' failed to satisfy constraint: Member must not be null; Value null at 'transactItems.1.member.get.key' failed to satisfy constraint: Member must not be null",
    ),
    (
        "DynamoDB_20120810.ExecuteStatement",
        r#"{"Limit":0,"NextToken":"","ReturnConsumedCapacity":"x"}"#,
        "4 validation errors detected: Value null at 'statement' failed to satisfy constraint: Member must not be null; Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    ),
    (
        "DynamoDB_20120810.BatchExecuteStatement",
        r#"{"Statements":[{},{"Statement":"SELECT * FROM tbl","Parameters":[]}],"ReturnConsumedCapacity":"x"}"#,
        "3 validation errors detected: Value null at 'statements.1.member.statement' failed to satisfy constraint: Member must not be null; Value '[]' at 'statements.2.member.parameters' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
    (
        "DynamoDB_20120810.ExecuteTransaction",
        r#"{"TransactStatements":[{"ReturnValuesOnConditionCheckFailure":"x"}],"ClientRequestToken":"","ReturnConsumedCapacity":"x"}"#,
        "4 validation errors detected: Value null at 'transactStatements.1.member.statement' failed to satisfy constraint: Member must not be null; Value 'x' at 'transactStatements.1.member.returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]; Value '' at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'x' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
    ),
];

/// The rows whose value is too long to write out: (target, member, length, the
/// member's maximum, the request's other members).
fn long_rows() -> Vec<(&'static str, &'static str, usize, usize, String)> {
    let arn = "a".repeat(37);
    let shard = "a".repeat(28);
    vec![
        (
            "DynamoDB_20120810.Query",
            "IndexName",
            256,
            255,
            r#""TableName":"tbl","#.into(),
        ),
        (
            "DynamoDB_20120810.Scan",
            "IndexName",
            256,
            255,
            r#""TableName":"tbl","#.into(),
        ),
        (
            "DynamoDB_20120810.ExecuteStatement",
            "Statement",
            8193,
            8192,
            String::new(),
        ),
        (
            "DynamoDB_20120810.ExecuteStatement",
            "NextToken",
            32769,
            32768,
            r#""Statement":"SELECT * FROM tbl","#.into(),
        ),
        (
            "DynamoDB_20120810.TransactWriteItems",
            "ClientRequestToken",
            37,
            36,
            r#""TransactItems":[{"Put":{"TableName":"tbl","Item":{"pk":{"S":"a"}}}}],"#.into(),
        ),
        (
            "DynamoDB_20120810.ExecuteTransaction",
            "ClientRequestToken",
            37,
            36,
            r#""TransactStatements":[{"Statement":"SELECT * FROM tbl WHERE pk='a'"}],"#.into(),
        ),
        (
            "DynamoDBStreams_20120810.ListStreams",
            "TableName",
            256,
            255,
            String::new(),
        ),
        (
            "DynamoDBStreams_20120810.ListStreams",
            "ExclusiveStartStreamArn",
            1025,
            1024,
            String::new(),
        ),
        (
            "DynamoDBStreams_20120810.DescribeStream",
            "ExclusiveStartShardId",
            66,
            65,
            format!(r#""StreamArn":"{arn}","#),
        ),
        (
            "DynamoDBStreams_20120810.GetShardIterator",
            "SequenceNumber",
            41,
            40,
            format!(
                r#""StreamArn":"{arn}","ShardId":"{shard}","ShardIteratorType":"AT_SEQUENCE_NUMBER","#
            ),
        ),
        (
            "DynamoDBStreams_20120810.GetRecords",
            "ShardIterator",
            2049,
            2048,
            String::new(),
        ),
    ]
}

/// Sends one raw request; answers its status, the exception name (after `#`) and message.
fn send(endpoint: &str, target: &str, body: &str) -> (u16, String, String) {
    let (status, text) = raw_request(endpoint, "POST", Some(target), body);
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{target} {body}: not JSON ({e}): {text}"));
    let kind = v["__type"].as_str().unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or_default().to_owned();
    let message = v["message"]
        .as_str()
        .or_else(|| v["Message"].as_str())
        .unwrap_or_default()
        .to_owned();
    (status, kind, message)
}

#[test]
fn every_checked_member_constraint_gets_dynamodbs_validation_message() {
    let server = Server::start();
    // A table with a stream exists, so a row's answer is its shape's and never a
    // missing table's.
    let (status, text) = raw_request(
        &server.endpoint,
        "POST",
        Some("DynamoDB_20120810.CreateTable"),
        r#"{"TableName":"tbl","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"}}"#,
    );
    assert_eq!(status, 200, "{text}");
    let long: Vec<(&str, String, String)> = long_rows()
        .into_iter()
        .map(|(target, member, len, max, others)| {
            let value = "1".repeat(len);
            let mut path = member.to_owned();
            path[..1].make_ascii_lowercase();
            (
                target,
                format!(r#"{{{others}"{member}":"{value}"}}"#),
                format!("1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"),
            )
        })
        .collect();
    let rows = ROWS
        .iter()
        .map(|(t, b, w)| (*t, (*b).to_owned(), (*w).to_owned()))
        .chain(long);
    let mut wrong = Vec::new();
    let mut n = 0;
    for (target, body, want) in rows {
        n += 1;
        let (status, kind, message) = send(&server.endpoint, target, &body);
        if (status, kind.as_str(), message.as_str()) != (400, "ValidationException", want.as_str())
        {
            wrong.push(format!(
                "{target} {body}\n   got  {status} {kind}: {message}\n   want 400 ValidationException: {want}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} rows differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
