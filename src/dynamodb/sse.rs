//! Server-side encryption as CreateTable, UpdateTable and DescribeTable speak it:
//! `SSESpecification` read into the table's declared setting, and `SSEDescription`
//! written from it.
//!
//! DynamoDB encrypts every table at rest; `Enabled: true` only moves a table from an
//! AWS owned key (the default, which DescribeTable does not report) to a KMS key. Eddy's
//! `--encryption-key-file` stands in for KMS: with it every stored value is sealed,
//! whatever a table declares, and a table's setting is recorded and shown back; without
//! it Eddy encrypts nothing, so a table asking for a KMS key is refused rather than
//! told it has one. It must not know how values are sealed (`eddy_engine::Seal`).

use eddy_engine::{Error, SseSetting, TableDef};
use serde_json::{Value, json};

use super::shape::WireSseSpecification;
use crate::error::ApiError;

/// The key id Eddy reports for a table that names no KMS key: its encryption key file,
/// in the place of the account's `alias/aws/dynamodb` key.
const EDDY_KEY_ID: &str = "00000000-0000-4000-8000-00000000edd1";

/// Reads a first-pass-checked `SSESpecification`: `None` when absent, `Some(None)` for
/// the default key (`Enabled` false or absent), `Some(Some(_))` for a KMS key.
/// `sealed` says whether the server has an encryption key.
pub(super) fn sse_setting(
    spec: Option<WireSseSpecification>,
    sealed: bool,
) -> Result<Option<Option<SseSetting>>, ApiError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    if spec.enabled != Some(true) {
        return Ok(Some(None));
    }
    // The two refusals are real DynamoDB answers: the first as Terraform's acceptance
    // tests recorded it (terraform-provider-aws#5666), the second as CloudFormation's
    // users quote it (aws-cloudformation-user-guide#1228; its "One or more parameter
    // values were invalid" prefix is assumed from the first, not confirmed).
    match (spec.sse_type.as_deref(), &spec.kms_master_key_id) {
        (Some("AES256"), _) => {
            return Err(Error::validation(
                "One or more parameter values were invalid: SSEType AES256 is not supported",
            )
            .into());
        }
        (None, Some(_)) => {
            return Err(Error::validation(
                "One or more parameter values were invalid: SSEType KMS is required if KMSMasterKeyId is specified",
            )
            .into());
        }
        _ => {}
    }
    if !sealed {
        return Err(Error::validation(
            "One or more parameter values were invalid: SSESpecification Enabled needs encryption at rest, which this server has only when started with --encryption-key-file",
        )
        .into());
    }
    Ok(Some(Some(SseSetting {
        kms_master_key_id: spec.kms_master_key_id,
    })))
}

/// DynamoDB's `SSEDescription` of a table with a KMS key; `None` for the default key.
/// `table_arn` gives the region and account of the key's ARN.
pub(super) fn sse_description(def: &TableDef, table_arn: &str) -> Option<Value> {
    let sse = def.settings.sse.as_ref()?;
    let mut parts = table_arn.split(':');
    let (region, account) = (parts.nth(3).unwrap_or(""), parts.next().unwrap_or(""));
    let key = sse.kms_master_key_id.as_deref().unwrap_or(EDDY_KEY_ID);
    let arn = if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{region}:{account}:{key}")
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{key}")
    };
    Some(json!({ "Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": arn }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> Option<WireSseSpecification> {
        Some(serde_json::from_value(v).unwrap())
    }

    fn message(r: Result<Option<Option<SseSetting>>, ApiError>) -> String {
        match r {
            Err(e) => format!("{e:?}"),
            Ok(v) => panic!("accepted: {v:?}"),
        }
    }

    #[test]
    fn enabled_needs_kms_and_a_key_file() {
        let kms = json!({"Enabled": true, "SSEType": "KMS", "KMSMasterKeyId": "k1"});
        assert_eq!(
            sse_setting(spec(kms.clone()), true).unwrap(),
            Some(Some(SseSetting {
                kms_master_key_id: Some("k1".into())
            }))
        );
        assert!(message(sse_setting(spec(kms), false)).contains("--encryption-key-file"));
        let aes = json!({"Enabled": true, "SSEType": "AES256"});
        assert!(message(sse_setting(spec(aes), true)).contains("SSEType AES256 is not supported"));
        let untyped = json!({"Enabled": true, "KMSMasterKeyId": "k1"});
        assert!(message(sse_setting(spec(untyped), true)).contains("SSEType KMS is required"));
        // Disabled (or Enabled missing) is the default key, with or without a key file.
        for off in [json!({"Enabled": false}), json!({})] {
            assert_eq!(sse_setting(spec(off), false).unwrap(), Some(None));
        }
        assert_eq!(sse_setting(None, true).unwrap(), None);
    }
}
