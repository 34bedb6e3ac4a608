//! Follow-up sequences (DESIGN.md section 4, flow 6): the pure rules of
//! contacts and steps, checked once when saved.

mod contact;
mod step;
mod template;

pub use contact::{ContactError, TimeZoneName, check_field_name};
pub use step::{MAX_STEPS, SendWindow, StepError, Wait};
pub use template::{STANDARD_VARIABLES, Template, TemplateError, Variables};
