//! Keyboard shortcuts: which key does what. Pure, so the mapping is tested without a browser;
//! `components::shortcuts` listens for the keys and runs the actions.

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open the next conversation in the list (`j`).
    Next,
    /// Open the previous one (`k`).
    Previous,
    /// Put the cursor in the reply box (`r`).
    FocusComposer,
    /// Resolve the open conversation (`e`).
    Resolve,
    /// Assign the open conversation to me (`a`).
    AssignToMe,
    /// Show the list of shortcuts (`?`).
    Help,
    /// Close what is open on top (the shortcut list, the notification menu), or leave the reply box.
    Escape,
}

/// The keys as the `?` overlay lists them.
pub const SHORTCUTS: [(&str, &str); 7] = [
    ("j", "Next conversation"),
    ("k", "Previous conversation"),
    ("r", "Reply: focus the message box"),
    ("e", "Resolve the conversation"),
    ("a", "Assign the conversation to me"),
    ("?", "Show these shortcuts"),
    ("Esc", "Close this list or a menu; leave the message box"),
];

/// The action for a key press (`KeyboardEvent.key`). In a text field only Esc is a shortcut, so
/// typing "j" in a reply types a "j"; with Ctrl, Alt or Meta held the browser's own shortcuts win.
pub fn action(key: &str, in_text_field: bool, ctrl_alt_or_meta: bool) -> Option<Action> {
    if key == "Escape" {
        return Some(Action::Escape);
    }
    if in_text_field || ctrl_alt_or_meta {
        return None;
    }
    Some(match key {
        "j" => Action::Next,
        "k" => Action::Previous,
        "r" => Action::FocusComposer,
        "e" => Action::Resolve,
        "a" => Action::AssignToMe,
        "?" => Action::Help,
        _ => return None,
    })
}

/// Whether an element with this tag name (and `contenteditable` state) takes typed text, so
/// letters typed in it are not shortcuts. Buttons, links and checkboxes don't.
pub fn takes_text(tag: &str, input_type: Option<&str>, content_editable: bool) -> bool {
    match tag.to_ascii_lowercase().as_str() {
        "textarea" | "select" => true,
        "input" => !matches!(
            input_type.map(str::to_ascii_lowercase).as_deref(),
            Some("checkbox" | "radio" | "button" | "submit" | "reset" | "range" | "color" | "file")
        ),
        _ => content_editable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_map_to_actions_outside_text_fields() {
        assert_eq!(action("j", false, false), Some(Action::Next));
        assert_eq!(action("k", false, false), Some(Action::Previous));
        assert_eq!(action("r", false, false), Some(Action::FocusComposer));
        assert_eq!(action("e", false, false), Some(Action::Resolve));
        assert_eq!(action("a", false, false), Some(Action::AssignToMe));
        assert_eq!(action("?", false, false), Some(Action::Help));
        assert_eq!(action("x", false, false), None);
        assert_eq!(action("J", false, false), None, "Shift+j is not j");
    }

    #[test]
    fn typing_in_a_text_field_is_typing_except_escape() {
        for key in ["j", "k", "r", "e", "a", "?"] {
            assert_eq!(action(key, true, false), None, "{key}");
        }
        assert_eq!(action("Escape", true, false), Some(Action::Escape));
        assert_eq!(action("Escape", false, false), Some(Action::Escape));
    }

    #[test]
    fn browser_shortcuts_with_modifiers_are_left_alone() {
        assert_eq!(action("r", false, true), None, "Ctrl+R reloads");
        assert_eq!(action("e", false, true), None);
    }

    #[test]
    fn every_action_is_listed_in_the_overlay() {
        let listed: Vec<_> = SHORTCUTS.iter().map(|(k, _)| *k).collect();
        for key in ["j", "k", "r", "e", "a", "?"] {
            assert!(listed.contains(&key) && action(key, false, false).is_some(), "{key}");
        }
        assert!(listed.contains(&"Esc"));
    }

    #[test]
    fn text_fields_are_told_apart_from_buttons_and_checkboxes() {
        assert!(takes_text("TEXTAREA", None, false));
        assert!(takes_text("input", Some("text"), false));
        assert!(takes_text("input", Some("email"), false));
        assert!(takes_text("INPUT", None, false));
        assert!(takes_text("select", None, false));
        assert!(takes_text("div", None, true));
        assert!(!takes_text("input", Some("checkbox"), false));
        assert!(!takes_text("button", None, false));
        assert!(!takes_text("body", None, false));
    }
}
