# bash completion for vdispctl(1): commands, options, and guest names asked
# from the running daemon (`vdispctl guests`), with the control socket of
# the command line being completed.
_vdispctl()
{
	local cur prev words cword
	_init_completion -n : || return

	local i cmd="" sock=() nargs=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket)
			sock=(-s "${words[i + 1]}")
			((i++))
			;;
		--socket=*) sock=(-s "${words[i]#--socket=}") ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	case $prev in
	-s | --socket)
		_filedir
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '--socket --json --help --version' -- "$cur"))
		return
	fi
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W 'status guests screenshot focus' -- "$cur"))
		return
	fi

	# "domN NAME: ..." per guest: both the name and domN complete.
	local guests
	guests=$(vdispctl "${sock[@]}" guests 2>/dev/null |
		sed -n 's/^\(dom[0-9]*\) \(.*\): [0-9]* connector.*/\1\n\2/p')
	case $cmd in
	focus)
		((nargs == 0)) && COMPREPLY=($(compgen -W "$guests" -- "$cur"))
		;;
	screenshot)
		if ((nargs == 0)); then
			compopt -o nospace 2>/dev/null
			COMPREPLY=($(compgen -W "$guests" -S : -- "$cur"))
			if [[ $cur == *:* ]]; then
				local g=${cur%%:*}
				COMPREPLY=($(compgen -W "$g:0 $g:1 $g:2 $g:3" -- "$cur"))
			fi
			__ltrim_colon_completions "$cur"
		elif ((nargs == 1)); then
			_filedir png
		fi
		;;
	esac
} &&
	complete -F _vdispctl vdispctl
