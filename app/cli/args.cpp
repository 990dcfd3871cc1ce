#include "app/cli/args.h"

#include <charconv>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace tessera::cli {

namespace {
std::vector<std::string> splitNames(const std::string& names) {
  std::vector<std::string> out;
  std::stringstream stream(names);
  std::string item;
  while (std::getline(stream, item, ',')) out.push_back(item);
  return out;
}
}  // namespace

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::option(const std::string& names, const std::string& metavar,
                       const std::string& help, std::optional<std::string> defaultValue) {
  Spec spec;
  spec.names = splitNames(names);
  spec.key = spec.names.back().substr(spec.names.back().find_first_not_of('-'));
  spec.metavar = metavar;
  spec.help = help;
  spec.defaultValue = std::move(defaultValue);
  specs_.push_back(std::move(spec));
}

void ArgParser::flag(const std::string& names, const std::string& help) {
  option(names, "", help);
  specs_.back().isFlag = true;
}

void ArgParser::positional(const std::string& name, const std::string& help, bool required) {
  positionals_.push_back({name, help, required});
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const Spec& spec : specs_)
    for (const std::string& n : spec.names)
      if (n == name) return &spec;
  return nullptr;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  std::size_t positionalIndex = 0;
  bool onlyPositionals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!onlyPositionals && arg == "--") {
      onlyPositionals = true;
      continue;
    }
    if (!onlyPositionals && (arg == "-h" || arg == "--help")) {
      help_ = true;
      return false;
    }
    if (!onlyPositionals && arg.size() > 1 && arg[0] == '-' &&
        !(arg.size() > 1 && std::isdigit(static_cast<unsigned char>(arg[1])))) {
      std::string inlineValue;
      bool hasInline = false;
      const std::size_t eq = arg.find('=');
      if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        inlineValue = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        hasInline = true;
      }
      const Spec* spec = find(arg);
      if (!spec) {
        error_ = "unknown option '" + arg + "'";
        return false;
      }
      if (spec->isFlag) {
        if (hasInline) {
          error_ = "option '" + arg + "' takes no value";
          return false;
        }
        values_[spec->key] = "1";
        continue;
      }
      if (hasInline) {
        values_[spec->key] = inlineValue;
      } else {
        if (i + 1 >= args.size()) {
          error_ = "option '" + arg + "' needs a value (" + spec->metavar + ")";
          return false;
        }
        values_[spec->key] = args[++i];
      }
      continue;
    }
    if (positionalIndex >= positionals_.size()) {
      error_ = "unexpected argument '" + arg + "'";
      return false;
    }
    values_[positionals_[positionalIndex++].name] = arg;
  }
  for (std::size_t p = positionalIndex; p < positionals_.size(); ++p) {
    if (positionals_[p].required) {
      error_ = "missing argument " + positionals_[p].name;
      return false;
    }
  }
  for (const Spec& spec : specs_)
    if (spec.defaultValue && !values_.count(spec.key)) values_[spec.key] = *spec.defaultValue;
  return true;
}

std::string ArgParser::usage() const {
  std::ostringstream out;
  out << "usage: tessera " << command_;
  for (const Positional& p : positionals_)
    out << (p.required ? " " : " [") << p.name << (p.required ? "" : "]");
  if (!specs_.empty()) out << " [options]";
  out << "\n\n" << summary_ << "\n";
  if (!positionals_.empty()) {
    out << "\narguments:\n";
    for (const Positional& p : positionals_) out << "  " << p.name << "\n      " << p.help << "\n";
  }
  out << "\noptions:\n";
  for (const Spec& spec : specs_) {
    out << "  ";
    for (std::size_t i = 0; i < spec.names.size(); ++i) out << (i ? ", " : "") << spec.names[i];
    if (!spec.isFlag) out << " " << spec.metavar;
    out << "\n      " << spec.help;
    if (spec.defaultValue) out << " (default: " << *spec.defaultValue << ")";
    out << "\n";
  }
  out << "  -h, --help\n      show this help\n";
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

bool ArgParser::has(const std::string& name) const {
  return values_.count(name) > 0;
}

std::string ArgParser::get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

bool ArgParser::getInt(const std::string& name, long long* value, long long minimum,
                       long long maximum) {
  const std::string text = get(name);
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || parsed < minimum || parsed > maximum) {
    error_ = "--" + name + " must be an integer from " + std::to_string(minimum) + " to " +
             std::to_string(maximum) + ", got '" + text + "'";
    return false;
  }
  *value = parsed;
  return true;
}

bool ArgParser::getDouble(const std::string& name, double* value) {
  const std::string text = get(name);
  double parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    error_ = "--" + name + " must be a number, got '" + text + "'";
    return false;
  }
  *value = parsed;
  return true;
}

}  // namespace tessera::cli
