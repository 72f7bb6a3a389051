//! Classification of a received file by configurable rules on its path and name:
//! category, subject, grade, textbook edition and media kind.
//!
//! Pure logic: the rules see the path relative to the drop folder (decoded for
//! display) and nothing else. The first rule whose word occurs in the path wins,
//! so rule order matters (specific before general).

use serde::{Deserialize, Serialize};

/// One rule: the value it assigns and the words (case-insensitive substrings of
/// the path) that trigger it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub value: String,
    /// Display label (Chinese); the value is used when empty.
    #[serde(default)]
    pub label: String,
    pub words: Vec<String>,
}

/// A media-kind rule: the kind and the file extensions (lower case, no dot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    pub value: String,
    pub extensions: Vec<String>,
}

/// `[classify]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyConfig {
    pub categories: Vec<Rule>,
    pub subjects: Vec<Rule>,
    pub grades: Vec<Rule>,
    pub editions: Vec<Rule>,
    pub kinds: Vec<KindRule>,
}

/// The category code of a file no rule matched.
pub const OTHER: &str = "other";

fn rule(value: &str, label: &str, words: &[&str]) -> Rule {
    Rule {
        value: value.into(),
        label: label.into(),
        words: words.iter().map(|w| w.to_string()).collect(),
    }
}

fn plain(value: &str, words: &[&str]) -> Rule {
    rule(value, "", words)
}

fn kind(value: &str, extensions: &[&str]) -> KindRule {
    KindRule {
        value: value.into(),
        extensions: extensions.iter().map(|w| w.to_string()).collect(),
    }
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            categories: vec![
                rule(
                    "planting",
                    "种植",
                    &[
                        "种植",
                        "栽培",
                        "果树",
                        "蔬菜",
                        "大棚",
                        "育苗",
                        "水稻",
                        "小麦",
                        "玉米",
                        "棉花",
                        "食用菌",
                        "植保",
                    ],
                ),
                rule(
                    "breeding",
                    "养殖",
                    &[
                        "养殖", "养猪", "生猪", "养鸡", "蛋鸡", "肉鸡", "养牛", "养羊", "畜牧",
                        "家禽", "水产", "兽医", "饲养",
                    ],
                ),
                rule(
                    "agriculture",
                    "农业技术",
                    &["农业技术", "农业", "农技", "致富"],
                ),
                rule("party", "党员教育", &["党员", "党建", "远教"]),
                rule(
                    "training",
                    "教师培训",
                    &["教师培训", "教师教育", "继续教育", "教研", "培训"],
                ),
                rule(
                    "course",
                    "课程资源",
                    &[
                        "同步课堂",
                        "课程",
                        "课堂",
                        "专题教育",
                        "教学",
                        "课件",
                        "小学",
                        "初中",
                        "年级",
                        "语文",
                        "数学",
                        "英语",
                    ],
                ),
            ],
            subjects: vec![
                plain("语文", &["语文"]),
                plain("数学", &["数学"]),
                plain("英语", &["英语", "english"]),
                plain("科学", &["科学"]),
                plain("品德", &["品德", "道德与法治", "思想品德", "思品"]),
                plain("物理", &["物理"]),
                plain("化学", &["化学"]),
                plain("生物", &["生物"]),
                plain("历史", &["历史"]),
                plain("地理", &["地理"]),
                plain("音乐", &["音乐"]),
                plain("美术", &["美术"]),
                plain("体育", &["体育"]),
                plain("信息技术", &["信息技术"]),
                plain("综合实践", &["综合实践"]),
            ],
            grades: vec![
                plain("七年级", &["七年级", "初一", "7年级"]),
                plain("八年级", &["八年级", "初二", "8年级"]),
                plain("九年级", &["九年级", "初三", "9年级"]),
                plain("一年级", &["一年级", "1年级"]),
                plain("二年级", &["二年级", "2年级"]),
                plain("三年级", &["三年级", "3年级"]),
                plain("四年级", &["四年级", "4年级"]),
                plain("五年级", &["五年级", "5年级"]),
                plain("六年级", &["六年级", "6年级"]),
            ],
            editions: vec![
                plain("人教版", &["人教"]),
                plain("北师大版", &["北师大", "北师版"]),
                plain("苏教版", &["苏教"]),
                plain("外研版", &["外研"]),
                plain("冀教版", &["冀教"]),
                plain("湘教版", &["湘教"]),
                plain("沪教版", &["沪教"]),
                plain("鲁教版", &["鲁教"]),
                plain("统编版", &["统编", "部编"]),
            ],
            kinds: vec![
                kind(
                    "video",
                    &[
                        "mp4", "m4v", "rm", "rmvb", "asf", "wmv", "flv", "f4v", "mpg", "mpeg",
                        "m1v", "vob", "avi", "mkv", "mov", "3gp", "ts", "dat",
                    ],
                ),
                kind(
                    "audio",
                    &[
                        "mp3", "wma", "wav", "ra", "ram", "aac", "m4a", "ogg", "flac", "mid",
                    ],
                ),
                kind(
                    "courseware",
                    &["ppt", "pptx", "pps", "swf", "htm", "html", "chm"],
                ),
                kind(
                    "document",
                    &[
                        "doc", "docx", "pdf", "txt", "rtf", "xls", "xlsx", "wps", "et",
                    ],
                ),
                kind(
                    "package",
                    &["zip", "rar", "7z", "tar", "gz", "tgz", "bz2", "iso"],
                ),
                kind(
                    "image",
                    &["jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff"],
                ),
            ],
        }
    }
}

/// What the rules say about one path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Classification {
    pub category: String,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub edition: Option<String>,
    pub kind: String,
}

fn first_match(rules: &[Rule], hay: &str) -> Option<String> {
    rules
        .iter()
        .find(|r| {
            r.words
                .iter()
                .any(|w| !w.is_empty() && hay.contains(&w.to_lowercase()))
        })
        .map(|r| r.value.clone())
}

impl ClassifyConfig {
    /// Classifies a path given relative to the drop folder, as displayed.
    pub fn classify(&self, rel_display: &str) -> Classification {
        let hay = rel_display.to_lowercase();
        let ext = std::path::Path::new(&hay)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = self
            .kinds
            .iter()
            .find(|k| k.extensions.iter().any(|e| e.eq_ignore_ascii_case(&ext)))
            .map(|k| k.value.clone())
            .unwrap_or_else(|| OTHER.to_string());
        Classification {
            category: first_match(&self.categories, &hay).unwrap_or_else(|| OTHER.to_string()),
            subject: first_match(&self.subjects, &hay),
            grade: first_match(&self.grades, &hay),
            edition: first_match(&self.editions, &hay),
            kind,
        }
    }

    /// The display label of a category code.
    pub fn category_label<'a>(&'a self, code: &'a str) -> &'a str {
        if code == OTHER {
            return "其他";
        }
        self.categories
            .iter()
            .find(|r| r.value == code)
            .map(|r| {
                if r.label.is_empty() {
                    &r.value
                } else {
                    &r.label
                }
            })
            .map(|s| s.as_str())
            .unwrap_or(code)
    }

    /// Every category code with its label, `other` last.
    pub fn category_codes(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .categories
            .iter()
            .map(|r| (r.value.clone(), self.category_label(&r.value).to_string()))
            .collect();
        v.push((OTHER.into(), "其他".into()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str) -> Classification {
        ClassifyConfig::default().classify(p)
    }

    #[test]
    fn course_with_subject_grade_edition() {
        let r = c("同步课堂/小学/三年级/语文/人教版 第5课 秋天的雨.rmvb");
        assert_eq!(r.category, "course");
        assert_eq!(r.subject.as_deref(), Some("语文"));
        assert_eq!(r.grade.as_deref(), Some("三年级"));
        assert_eq!(r.edition.as_deref(), Some("人教版"));
        assert_eq!(r.kind, "video");
    }

    #[test]
    fn junior_middle_grades_by_old_names() {
        assert_eq!(
            c("初中/初二/物理/浮力.ppt").grade.as_deref(),
            Some("八年级")
        );
        assert_eq!(c("初中/初二/物理/浮力.ppt").kind, "courseware");
    }

    #[test]
    fn agriculture_before_course_words() {
        assert_eq!(c("农业技术/种植/大棚蔬菜.wmv").category, "planting");
        assert_eq!(c("农业技术/养殖/蛋鸡饲养.asf").category, "breeding");
        assert_eq!(c("农业技术/农机维修.flv").category, "agriculture");
    }

    #[test]
    fn training_before_course() {
        assert_eq!(c("教师培训/小学数学教学设计.mp4").category, "training");
    }

    #[test]
    fn unknown_is_other() {
        let r = c("abc/xyz.bin");
        assert_eq!(r.category, OTHER);
        assert_eq!(r.kind, OTHER);
        assert_eq!(r.subject, None);
    }

    #[test]
    fn extension_is_case_insensitive() {
        assert_eq!(c("X/Y.RMVB").kind, "video");
        assert_eq!(c("English/unit1.MP3").subject.as_deref(), Some("英语"));
    }

    #[test]
    fn labels() {
        let cfg = ClassifyConfig::default();
        assert_eq!(cfg.category_label("training"), "教师培训");
        assert_eq!(cfg.category_label(OTHER), "其他");
    }
}
