//! The request-level error's promises: each gives its cause as `source` exactly when it has
//! one, and a count of one is singular in its messages (issue #14).

use std::error::Error as _;

use cardadmin::cm::CmError;
use cardadmin::ParseError;
use cardadmin_mimcm::RequestError;

#[test]
fn every_request_error_gives_its_cause_as_source_and_only_then() {
    let parse = ParseError::Empty { what: "GUID" };
    let with_cause = [
        (
            RequestError::Core(CmError::CardId(parse)),
            CmError::CardId(parse).to_string(),
        ),
        (RequestError::Atr(parse), parse.to_string()),
        (
            RequestError::PathGuid {
                parameter: "reqid",
                error: parse,
            },
            parse.to_string(),
        ),
    ];
    for (err, cause) in with_cause {
        assert_eq!(err.source().map(|e| e.to_string()), Some(cause), "{err:?}");
    }
    let without_cause = [
        RequestError::Diversified { found: 3 },
        RequestError::Missing {
            parameter: "cardid",
        },
        RequestError::Duplicate {
            parameter: "cardid",
        },
        RequestError::NotFound,
    ];
    for err in without_cause {
        assert!(err.source().is_none(), "{err:?}");
    }
}

#[test]
fn a_count_of_one_is_singular() {
    assert_eq!(
        RequestError::Diversified { found: 1 }.to_string(),
        "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got 1 character of something else"
    );
    assert_eq!(
        RequestError::Diversified { found: 3 }.to_string(),
        "diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got 3 characters of something else"
    );
}
